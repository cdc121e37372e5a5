package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/connectproxy"
)

// awsCLI is Debian's awscli (apt-get install awscli), not whatever `aws`
// comes first on PATH: the tests pin the client they claim to test. When it
// is missing the test skips: make test installs it (hack/setup-test-tools.sh)
// and lists every skip in its summary, and with CI=true a skip fails it.
func awsCLI(t *testing.T) string {
	t.Helper()
	p := os.Getenv("IDLAB_AWSCLI")
	if p == "" {
		p = "/usr/bin/aws"
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("awscli not installed at %s (hack/setup-test-tools.sh installs it)", p)
	}
	return p
}

// cliEnv runs awscli as a pod would: web identity from a token file and a
// role ARN, the lab CA, and the real host names, which HTTPS_PROXY tunnels
// to the emulator. No endpoint flags: awscli 2.9's web-identity provider
// takes none, so this is the only way it can reach our STS unmodified.
type cliEnv struct {
	t     *testing.T
	bin   string
	env   []string
	proxy *connectproxy.Proxy
}

func newCLIEnv(t *testing.T, c *Cloud, token, roleARN string) *cliEnv {
	t.Helper()
	bin := awsCLI(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token), 0o600))
	p := &connectproxy.Proxy{Target: strings.TrimPrefix(c.URL(), "https://")}
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)
	env := []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + dir,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_WEB_IDENTITY_TOKEN_FILE=" + tokenFile,
		"AWS_ROLE_ARN=" + roleARN,
		"AWS_ROLE_SESSION_NAME=awscli",
		"AWS_REGION=us-west-2",
		"AWS_DEFAULT_REGION=us-west-2",
		"AWS_STS_REGIONAL_ENDPOINTS=regional",
		"AWS_CA_BUNDLE=" + filepath.Join(c.cfg.DataDir, certs.CertFile),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"HTTPS_PROXY=" + ps.URL,
		"NO_PROXY=",
	}
	return &cliEnv{t: t, bin: bin, env: env, proxy: p}
}

// run executes awscli and returns stdout, stderr and the exit code.
func (e *cliEnv) run(args ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = e.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(e.t, err, &ee, "aws %v: %v\n%s", args, err, errb.String())
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

func (e *cliEnv) ok(args ...string) string {
	e.t.Helper()
	out, errs, code := e.run(args...)
	require.Equal(e.t, 0, code, "aws %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), out, errs)
	return out
}

const cliFixture = `accounts:
  - id: "111111111111"
    oidcProviders:
      - url: ` + testIssuer + `
        clientIDs: [sts.amazonaws.com]
    roles:
      - name: uploader
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Federated: "arn:aws:iam::111111111111:oidc-provider/` + testHost + `"}
              Action: sts:AssumeRoleWithWebIdentity
              Condition: {StringEquals: {"` + testHost + `:sub": "system:serviceaccount:a:uploader"}}
        inlinePolicies:
          own-bucket-and-topic:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: "s3:ListAllMyBuckets"
                Resource: "*"
              - Effect: Allow
                Action: ["s3:CreateBucket", "s3:ListBucket", "s3:GetObject", "s3:PutObject"]
                Resource: ["arn:aws:s3:::uploads-a", "arn:aws:s3:::uploads-a/*"]
              - Effect: Allow
                Action: ["sns:CreateTopic", "sns:Publish", "sns:Subscribe"]
                Resource: "arn:aws:sns:us-west-2:111111111111:uploads"
      - name: intruder
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Federated: "arn:aws:iam::111111111111:oidc-provider/` + testHost + `"}
              Action: sts:AssumeRoleWithWebIdentity
              Condition: {StringEquals: {"` + testHost + `:sub": "system:serviceaccount:b:intruder"}}
        inlinePolicies:
          list-only:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: "s3:ListAllMyBuckets"
                Resource: "*"
`

// TestAWSCLI drives Debian's awscli through the whole use case: web identity
// at STS, a bucket, an upload (single and multipart), a listing, a presigned
// download, and an SNS announcement read back from the subscribed queue;
// then the denials a second role meets.
func TestAWSCLI(t *testing.T) {
	t.Parallel() // each runs awscli some 20-50 times against a cloud of its own
	c, minter := startCloudWith(t, cliFixture)
	mint := func(ns, sa string) string {
		tok, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: ns, ServiceAccount: sa, Audiences: []string{"sts.amazonaws.com"}})
		require.NoError(t, err)
		return tok
	}
	up := newCLIEnv(t, c, mint("a", "uploader"), "arn:aws:iam::111111111111:role/uploader")

	var who struct{ Arn string }
	require.NoError(t, json.Unmarshal([]byte(up.ok("sts", "get-caller-identity", "--output", "json")), &who))
	require.Equal(t, "arn:aws:sts::111111111111:assumed-role/uploader/awscli", who.Arn)

	up.ok("s3", "mb", "s3://uploads-a")
	dir := t.TempDir()
	small := filepath.Join(dir, "report.csv")
	require.NoError(t, os.WriteFile(small, []byte("id,value\n1,42\n"), 0o644))
	up.ok("s3", "cp", small, "s3://uploads-a/reports/report.csv")
	big := filepath.Join(dir, "big.bin")
	bigData := bytes.Repeat([]byte("0123456789abcdef"), 9<<20/16) // 9 MiB: over awscli's 8 MiB multipart threshold
	require.NoError(t, os.WriteFile(big, bigData, 0o644))
	up.ok("s3", "cp", big, "s3://uploads-a/big.bin")

	ls := up.ok("s3", "ls", "s3://uploads-a/", "--recursive")
	require.Contains(t, ls, "reports/report.csv")
	require.Contains(t, ls, "big.bin")
	require.Contains(t, up.ok("s3", "ls"), "uploads-a")
	require.Equal(t, "id,value\n1,42\n", up.ok("s3", "cp", "s3://uploads-a/reports/report.csv", "-"))
	back := filepath.Join(dir, "big.back")
	up.ok("s3", "cp", "s3://uploads-a/big.bin", back)
	got, err := os.ReadFile(back)
	require.NoError(t, err)
	require.True(t, bytes.Equal(bigData, got), "multipart object read back differs")

	// A presigned URL works for anyone holding it, until it is tampered with.
	presigned := strings.TrimSpace(up.ok("s3", "presign", "s3://uploads-a/reports/report.csv", "--expires-in", "300"))
	require.Contains(t, presigned, "X-Amz-Signature=")
	status, body := get(t, c, presigned)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "id,value\n1,42\n", body)
	i := strings.Index(presigned, "X-Amz-Signature=") + len("X-Amz-Signature=")
	tampered := []byte(presigned)
	tampered[i] = map[bool]byte{true: '1', false: '0'}[tampered[i] == '0']
	status, body = get(t, c, string(tampered))
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "<Code>SignatureDoesNotMatch</Code>")

	// Announce the upload on a topic; the subscribed queue receives it.
	var topic struct{ TopicArn string }
	require.NoError(t, json.Unmarshal([]byte(up.ok("sns", "create-topic", "--name", "uploads", "--output", "json")), &topic))
	require.Equal(t, "arn:aws:sns:us-west-2:111111111111:uploads", topic.TopicArn)
	up.ok("sns", "subscribe", "--topic-arn", topic.TopicArn, "--protocol", "sqs", "--notification-endpoint", "arn:aws:sqs:us-west-2:111111111111:uploads-q")
	var pub struct{ MessageId string }
	require.NoError(t, json.Unmarshal([]byte(up.ok("sns", "publish", "--topic-arn", topic.TopicArn, "--message", "uploaded s3://uploads-a/reports/report.csv", "--output", "json")), &pub))
	require.NotEmpty(t, pub.MessageId)
	status, body = adminDo(t, c, http.MethodGet, "/_idlab/sns/queues/111111111111/uploads-q", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "uploaded s3://uploads-a/reports/report.csv")
	require.Contains(t, body, pub.MessageId)

	// Every host awscli reached was a real AWS name, tunnelled to the lab.
	for _, h := range up.proxy.Hosts() {
		require.True(t, strings.HasSuffix(h, ".amazonaws.com:443"), h)
	}

	// Another role: its own identity, no access to the bucket or the topic.
	in := newCLIEnv(t, c, mint("b", "intruder"), "arn:aws:iam::111111111111:role/intruder")
	_, errs, code := in.run("s3api", "get-object", "--bucket", "uploads-a", "--key", "reports/report.csv", filepath.Join(dir, "stolen"))
	require.NotEqual(t, 0, code)
	require.Contains(t, errs, "An error occurred (AccessDenied) when calling the GetObject operation")
	_, errs, code = in.run("s3", "cp", small, "s3://uploads-a/planted.csv")
	require.NotEqual(t, 0, code)
	require.Contains(t, errs, "AccessDenied")
	_, errs, code = in.run("sns", "publish", "--topic-arn", topic.TopicArn, "--message", "spoof")
	require.NotEqual(t, 0, code)
	require.Contains(t, errs, "An error occurred (AuthorizationError) when calling the Publish operation")
	// A pod whose token names another service account gets no session at all.
	wrong := newCLIEnv(t, c, mint("a", "intruder"), "arn:aws:iam::111111111111:role/uploader")
	_, errs, code = wrong.run("sts", "get-caller-identity")
	require.NotEqual(t, 0, code)
	require.Contains(t, errs, "An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation")

	// The emulator's own account of the denials.
	status, body = adminDo(t, c, http.MethodGet, "/_idlab/decisions?cloud=aws&effect=ImplicitDeny", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `"action":"s3:GetObject"`)
	require.Contains(t, body, `"action":"s3:PutObject"`)
	require.Contains(t, body, `"action":"sns:Publish"`)
}

func get(t *testing.T, c *Cloud, u string) (int, string) {
	t.Helper()
	resp, err := c.Client().Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}
