package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/internal/decisionlog"
)

// An EKS cluster of a lab file: a real account's issuer, registered by the
// lab (the issuers file's awsAccount), and a trust policy copied from it.
const (
	tIssuer  = "https://oidc.eks.eu-central-1.amazonaws.com/id/ABC123"
	tHost    = "oidc.eks.eu-central-1.amazonaws.com/id/ABC123"
	tAccount = "111122223333"
	tRole    = "arn:aws:iam::" + tAccount + ":role/payments"
)

const tFixture = `accounts:
  - id: "` + tAccount + `"
    roles:
      - name: payments
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Sid: PaymentsAPI
              Effect: Allow
              Principal: {Federated: "arn:aws:iam::` + tAccount + `:oidc-provider/` + tHost + `"}
              Action: sts:AssumeRoleWithWebIdentity
              Condition:
                StringEquals: {"` + tHost + `:sub": system:serviceaccount:payments:api, "` + tHost + `:aud": sts.amazonaws.com}
`

// emulatorLab runs the composed emulator in process with its admin API on
// a socket, as `idlab up` runs it in its container, and returns the state
// dir a lab.json names it in and a function that calls STS with a token
// for the given service account, returning the request ID.
func emulatorLab(t *testing.T) (stateDir string, assume func(sa string) string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "idlab-cmd-") // short: socket paths have at most 107 bytes
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644))
	require.NoError(t, cloud.WriteIssuers(filepath.Join(dir, "issuers.yaml"), cloud.IssuersFile{Issuers: []cloud.IssuerConfig{
		{URL: tIssuer, PublicKeyFiles: []string{"sa.pub"}, AWSAccount: tAccount}}}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "iam.yaml"), []byte(tFixture), 0o644))
	secretFile := filepath.Join(dir, "admin.secret")
	secret, err := cloud.LoadOrCreateAdminSecret(secretFile)
	require.NoError(t, err)
	c, err := cloud.New(cloud.Config{DataDir: filepath.Join(dir, "data"), FixturesDir: filepath.Join(dir, "iam.yaml"),
		IssuersFile: filepath.Join(dir, "issuers.yaml"), Region: "eu-central-1",
		AdminListen: "unix:" + filepath.Join(dir, "admin.sock"), AdminSecret: secret})
	require.NoError(t, err)
	require.NoError(t, c.Start())
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	raw, err := json.Marshal(harness.State{EmulatorURL: c.URL(), AdminAddr: c.AdminAddr(), AdminSecretFile: secretFile})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, harness.StateFile), raw, 0o644))

	minterH, err := oidc.New(oidc.Options{})
	require.NoError(t, err)
	minter, err := minterH.AddIssuer(tIssuer)
	require.NoError(t, err)
	_, err = minter.AddSigner(key)
	require.NoError(t, err)
	reqID := regexp.MustCompile(`<RequestId>([^<]+)</RequestId>`)
	return dir, func(sa string) string {
		tok, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: "payments", ServiceAccount: sa, Audiences: []string{"sts.amazonaws.com"}})
		require.NoError(t, err)
		resp, err := c.Client().PostForm("https://sts.eu-central-1.amazonaws.com/", url.Values{"Action": {"AssumeRoleWithWebIdentity"},
			"Version": {"2011-06-15"}, "RoleArn": {tRole}, "RoleSessionName": {"s1"}, "WebIdentityToken": {tok}})
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		wantStatus := http.StatusOK
		if sa != "api" {
			wantStatus = http.StatusForbidden
		}
		require.Equal(t, wantStatus, resp.StatusCode, string(body))
		m := reqID.FindSubmatch(body)
		require.NotNil(t, m, string(body))
		return string(m[1])
	}
}

func runIdlab(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestDecisionsAndExplain: `idlab decisions` lists what the emulator
// decided, filtered, as lines or JSON; `idlab explain` tells the chain of
// one request, by request ID or seq.
func TestDecisionsAndExplain(t *testing.T) {
	state, assume := emulatorLab(t)
	okID := assume("api")
	denyID := assume("worker")

	code, out, errOut := runIdlab(t, "decisions", "--state-dir", state)
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	require.Regexp(t, `^1 \S+ Allow aws/iam sts:AssumeRoleWithWebIdentity `+regexp.QuoteMeta(tRole)+` principal=arn:aws:iam::`+tAccount+`:oidc-provider/`+regexp.QuoteMeta(tHost)+` request=`+okID+` reason=`, lines[0])
	require.Regexp(t, `^2 \S+ ImplicitDeny aws/iam .* request=`+denyID+` reason="implicitly denied: `, lines[1])

	code, out, _ = runIdlab(t, "decisions", "--state-dir", state, "--effect", "deny")
	require.Equal(t, 0, code)
	require.Equal(t, 1, strings.Count(out, "\n"))
	require.Contains(t, out, "request="+denyID)
	code, out, _ = runIdlab(t, "decisions", "--state-dir", state, "--principal", ":oidc-provider/nobody")
	require.Equal(t, 0, code)
	require.Empty(t, out)

	code, out, _ = runIdlab(t, "decisions", "--state-dir", state, "--json", "--since", "1")
	require.Equal(t, 0, code)
	var d decisionlog.Entry
	require.NoError(t, json.Unmarshal([]byte(out), &d), out)
	require.Equal(t, int64(2), d.Seq)
	require.Equal(t, denyID, d.RequestID)

	code, out, errOut = runIdlab(t, "explain", "--state-dir", state, denyID)
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{
		"request " + denyID + " (aws iam)",
		"  token      iss " + tIssuer + ", aud sts.amazonaws.com, sub system:serviceaccount:payments:worker\n",
		"  provider   arn:aws:iam::" + tAccount + ":oidc-provider/" + tHost + "\n",
		"  role       " + tRole + "\n",
		`  trust      statement "PaymentsAPI" of trust policy of ` + tRole + " (Allow) would allow it\n",
		`  condition  StringEquals ` + tHost + `:sub wants "system:serviceaccount:payments:api", got "system:serviceaccount:payments:worker": it does not hold` + "\n",
		"  verdict    DENIED (implicit deny: no statement allows it): implicitly denied: ",
	} {
		require.Contains(t, out, want)
	}
	code, bySeq, _ := runIdlab(t, "explain", "--state-dir", state, "1")
	require.Equal(t, 0, code)
	require.Contains(t, bySeq, "request "+okID)
	require.Contains(t, bySeq, "  verdict    ALLOWED")

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"explain", "--state-dir", state, "no-such-request"}, 1, `no decision of request "no-such-request" in the decision log`},
		{[]string{"explain", "--state-dir", state, "99"}, 1, `no decision of request "99"`},
		{[]string{"explain", "--state-dir", state}, 2, "name one request ID or decision seq"},
		{[]string{"decisions", "--state-dir", state, "--effect", "maybe"}, 2, `--effect "maybe": want allow, deny`},
		{[]string{"decisions", "--state-dir", state, "--since", "-1"}, 2, "--since -1"},
		{[]string{"decisions", "--state-dir", t.TempDir()}, 1, "no lab is up"},
	} {
		code, out, errOut := runIdlab(t, tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errOut)
		require.Empty(t, out)
		require.Contains(t, errOut, tc.want)
	}
}

// TestDecisionsFollow: --follow prints the decisions there are, then each
// new one once, until interrupted (exit 0).
func TestDecisionsFollow(t *testing.T) {
	state, assume := emulatorLab(t)
	first := assume("api")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"decisions", "--state-dir", state, "--follow", "--interval", "20ms"}, &out, &errOut)
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "request="+first) }, 10*time.Second, 10*time.Millisecond)
	second := assume("worker")
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "request="+second) }, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.Equal(t, 0, <-done, errOut.String())
	require.Equal(t, 2, strings.Count(out.String(), "\n"), "each decision once: %s", out.String())
}
