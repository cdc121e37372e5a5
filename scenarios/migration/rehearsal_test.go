package migration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/harness/iamimport"
	"github.com/idlab/idlab/idlabtest"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
	"github.com/idlab/idlab/scenarios/kit/pyprobe"
)

// TestLabMigrationRehearsal is the test of the suite's rows (no //go:build e2e: make
// test runs it): every row's steps, on the composed cloud with the lab's
// fixtures instead of the lab, with the same app.py under Debian's python3,
// boto3 and Flask and the same fetch (probe.py fetch-link) a pod runs. An
// HTTP CONNECT tunnel sends the real host names to the cloud, as cluster
// DNS does. The outcomes and decisions are asserted with the e2e rows' own
// checks, and each refusal is shown to rest on what its row says: the
// deactivated key works again once active, the link that expired worked
// before its session was aged, the SigV2 link's app works with the SigV4
// config.
func TestLabMigrationRehearsal(t *testing.T) {
	py := debianPython(t)
	c := idlabtest.NewCloud(t, idlabtest.CloudOptions{AWSFixtures: fixturecheck.Path(t, "aws/lab.yaml"), Issuers: []string{fixturecheck.Issuer("eks")}})
	ctx := context.Background()
	h := newHost(t, py, c)

	status, body := c.Admin(http.MethodPost, "/_idlab/iam/admins/"+Account, "")
	require.Equal(t, http.StatusOK, status, body)
	var admin struct{ AccessKeyId, SecretAccessKey string }
	require.NoError(t, json.Unmarshal([]byte(body), &admin))
	iamc := iamimport.NewClient(c.URL(), c.Client(), aws.Credentials{AccessKeyID: admin.AccessKeyId, SecretAccessKey: admin.SecretAccessKey})
	key := newStaticKey(ctx, t, iamc)
	outside := outsideS3(c.URL(), c.Client(), key.key)

	static := h.startApp(t, []string{"AWS_ACCESS_KEY_ID=" + key.key.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + key.key.SecretAccessKey}, true)
	// decided runs step and checks, and returns, the decision the row
	// reads.
	decided := func(t *testing.T, r row, step func()) seen {
		t.Helper()
		since := lastSeq(c)
		step()
		ds := c.IAM.Decisions(awsiam.DecisionFilter{Since: since, Action: r.action, Resource: ObjectARN})
		require.NotEmpty(t, ds, "the emulator must have decided on %s %s", r.action, ObjectARN)
		d := ds[len(ds)-1]
		r.checkDecision(t, d.Effect, d.Principal, d.Reason, d.Explanation())
		return seen{principal: d.Principal, reason: d.Reason}
	}

	t.Run(rowStatic.name, func(t *testing.T) {
		decided(t, rowStatic, func() { h.fetchRow(t, rowStatic, pyprobe.FetchLinkArgs(static+"/profile/"+ProfileUser)) })
	})
	t.Run(rowLeak.name, func(t *testing.T) {
		d := decided(t, rowLeak, func() {
			text, err := readProfile(ctx, outside)
			rowLeak.checkOutside(t, text, err)
		})
		require.Equal(t, StaticUserARN, d.principal)
	})
	t.Run(rowDeactivated.name, func(t *testing.T) {
		key.set(ctx, t, iamtypes.StatusTypeInactive)
		d := decided(t, rowDeactivated, func() { h.fetchRow(t, rowDeactivated, pyprobe.FetchLinkArgs(static+"/profile/"+ProfileUser)) })
		require.Equal(t, StaticUserARN, d.principal)
		require.Contains(t, d.reason, key.key.AccessKeyID)
		_, err := readProfile(ctx, outside)
		rowDeactivated.checkOutside(t, "", err)
		// The refusal rests on the key's status: active again, the same
		// app's link works.
		key.set(ctx, t, iamtypes.StatusTypeActive)
		h.fetchRow(t, rowStatic, pyprobe.FetchLinkArgs(static+"/profile/"+ProfileUser))
		require.NoError(t, key.delete(ctx))
	})

	// The migration: the same app, no keys, the IRSA webhook's environment.
	token, err := c.TokenFile(fixturecheck.Issuer("eks"), Namespace, ServiceAccount)
	require.NoError(t, err)
	irsa := []string{"AWS_ROLE_ARN=" + RoleARN, "AWS_WEB_IDENTITY_TOKEN_FILE=" + token, "AWS_STS_REGIONAL_ENDPOINTS=regional", "AWS_REGION=" + Region}
	app := h.startApp(t, irsa, true)
	var link string
	t.Run(rowIRSA.name, func(t *testing.T) {
		decided(t, rowIRSA, func() { link = h.fetchRow(t, rowIRSA, pyprobe.FetchLinkArgs(app+"/profile/"+ProfileUser)).Link })
		require.Contains(t, link, "X-Amz-Security-Token=", "a session's link")
	})
	t.Run(rowDefault.name, func(t *testing.T) {
		def := h.startApp(t, irsa, false)
		d := decided(t, rowDefault, func() { h.fetchRow(t, rowDefault, pyprobe.FetchLinkArgs(def+"/profile/"+ProfileUser)) })
		require.Contains(t, d.reason, "InvalidRequest: Signature Version 2 (ASIA")
	})
	t.Run(rowExpired.name, func(t *testing.T) {
		require.NotEmpty(t, link, "the irsa row's link")
		// The link works until the session is aged past its expiry.
		h.fetchRow(t, rowIRSA, pyprobe.FetchURLArgs(link))
		ageRoleSessions(t, c)
		decided(t, rowExpired, func() { h.fetchRow(t, rowExpired, pyprobe.FetchURLArgs(link)) })
	})
}

// seen is what a check beyond the row's own reads of a decision.
type seen struct{ principal, reason string }

// lastSeq is the newest decision's Seq (0 for none).
func lastSeq(c *idlabtest.Cloud) int64 {
	ds := c.IAM.Decisions(awsiam.DecisionFilter{})
	if len(ds) == 0 {
		return 0
	}
	return ds[len(ds)-1].Seq
}

// ageRoleSessions ages migration-app's sessions as the e2e row does, with
// the lab clock of that role only.
func ageRoleSessions(t *testing.T, c *idlabtest.Cloud) {
	t.Helper()
	status, body := c.Admin(http.MethodPost, agePath, "")
	require.Equal(t, http.StatusOK, status, body)
	var out aged
	require.NoError(t, json.Unmarshal([]byte(body), &out))
	require.Positive(t, out.SessionsAged, body)
}

// debianPython is Debian's python3 with Debian's boto3 and Flask, not
// another python3 first on PATH: the rows claim what those packages do.
// make test installs them (hack/setup-test-tools.sh python3-boto3
// python3-flask); a host without them skips, and with CI=true a skip fails.
func debianPython(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	for _, p := range []string{py, "/usr/lib/python3/dist-packages/boto3", "/usr/lib/python3/dist-packages/flask"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("no %s (hack/setup-test-tools.sh python3-boto3 python3-flask): %v", p, err)
		}
	}
	return py
}

// host runs app.py and probe.py on this machine against the cloud.
type host struct {
	py, dir string
	env     []string // every process's
}

func newHost(t *testing.T, py string, c *idlabtest.Cloud) *host {
	t.Helper()
	dir := t.TempDir()
	for name, text := range map[string]string{"app.py": AppScript, "probe.py": pyprobe.Script, "ca.pem": string(c.CA.PEM),
		"aws-config": SigV4Config, "empty": ""} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	proxy := httptest.NewServer(tunnel(strings.TrimPrefix(c.URL(), "https://")))
	t.Cleanup(proxy.Close)
	return &host{py: py, dir: dir, env: []string{
		"PATH=/usr/bin:/bin", "HOME=" + dir, "LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1",
		"AWS_CA_BUNDLE=" + filepath.Join(dir, "ca.pem"), "SSL_CERT_FILE=" + filepath.Join(dir, "ca.pem"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "empty"), "AWS_EC2_METADATA_DISABLED=true",
		"HTTPS_PROXY=" + proxy.URL, "NO_PROXY=127.0.0.1",
	}}
}

// startApp runs app.py as the Deployment does (PROFILE_BUCKET,
// AWS_DEFAULT_REGION, and with sigV4 AWS_CONFIG_FILE=SigV4Config), plus
// env, and returns its URL once it answers.
func (h *host) startApp(t *testing.T, env []string, sigV4 bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	config := filepath.Join(h.dir, "empty")
	if sigV4 {
		config = filepath.Join(h.dir, "aws-config")
	}
	cmd := exec.Command(h.py, filepath.Join(h.dir, "app.py"))
	cmd.Env = append(append(h.env, "PROFILE_BUCKET="+Bucket, "AWS_DEFAULT_REGION="+Region, "AWS_CONFIG_FILE="+config,
		fmt.Sprintf("PORT=%d", port)), env...)
	logs := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/")
		if err == nil {
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			return url
		}
		require.True(t, time.Now().Before(deadline), "app.py does not answer: %v\n%s", err, logs)
		time.Sleep(100 * time.Millisecond)
	}
}

// fetchRow runs probe.py with args (fetch-link, fetch-url), as the row's
// fetching pod does, and checks what it got as the row does.
func (h *host) fetchRow(t *testing.T, r row, args []string) pyprobe.Fetch {
	t.Helper()
	cmd := exec.Command(h.py, append([]string{filepath.Join(h.dir, "probe.py")}, args...)...)
	cmd.Env = h.env
	raw, err := cmd.Output()
	require.NoError(t, err, "probe.py always exits 0")
	got, err := pyprobe.ParseFetch(string(raw))
	require.NoError(t, err, "%s", raw)
	r.checkFetch(t, got, string(raw))
	return got
}

// tunnel is an HTTP CONNECT proxy that sends every tunnel to target: the
// real host names the app's boto3 and the fetch's urllib address
// (migration-profiles.s3.amazonaws.com, sts.us-west-2.amazonaws.com) reach
// the cloud with their own SNI, as cluster DNS sends them to the emulator.
func tunnel(target string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		up, err := net.DialTimeout("tcp", target, 10*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() {
			_, _ = io.Copy(up, bufio.NewReader(rw))
			up.Close()
		}()
		_, _ = io.Copy(conn, up)
		conn.Close()
	})
}
