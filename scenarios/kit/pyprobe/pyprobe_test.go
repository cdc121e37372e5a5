package pyprobe

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// fakeAWS stands in for awscli: it prints what awscli prints for each case
// (stdout, stderr, exit status), and on its second call puts token2 in the
// token file, as the kubelet's rotation would.
const fakeAWS = `#!/bin/bash
n=$(( $(cat "$FAKE_DIR/calls" 2>/dev/null || echo 0) + 1 ))
echo $n > "$FAKE_DIR/calls"
echo "$*" >> "$FAKE_DIR/argv"
[ $n = 2 ] && [ -f "$FAKE_DIR/token2" ] && cp "$FAKE_DIR/token2" "$AWS_WEB_IDENTITY_TOKEN_FILE"
case "$FAKE_MODE" in
ok) echo '{"UserId": "AROAX:botocore-session-1", "Account": "123456789012", "Arn": "arn:aws:sts::123456789012:assumed-role/py-app/botocore-session-1"}' ;;
object) printf 'hello from app-a-data' ;;
put) cat > "$FAKE_DIR/stdin" ;;
published) echo '{"MessageId": "0b1c2d3e-0000-4000-8000-000000000001"}' ;;
putdenied) cat >/dev/null; printf 'upload failed: - to s3://app-b-data/k An error occurred (AccessDenied) when calling the PutObject operation: Access Denied\n' >&2; exit 1 ;;
denied) echo "An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity" >&2; exit 254 ;;
head403) printf '\nfatal error: An error occurred (403) when calling the HeadObject operation: Forbidden\n' >&2; exit 1 ;;
retried) echo "An error occurred (InvalidIdentityToken) when calling the AssumeRoleWithWebIdentity operation (reached max retries: 4): Incorrect token audience" >&2; exit 254 ;;
nocreds) printf 'Unable to locate credentials. You can configure credentials by running "aws configure".\n' >&2; exit 253 ;;
debug-regional) for i in 1 2; do echo "2026-01-01 00:00:0$i,000 - MainThread - botocore.endpoint - DEBUG - Sending http request: <AWSPreparedRequest stream_output=False, method=POST, url=https://sts.us-west-2.amazonaws.com/, headers={'Content-Type': b'application/x-www-form-urlencoded; charset=utf-8'}>" >&2; done
  echo '{"UserId": "AROAX:botocore-session-1", "Account": "123456789012", "Arn": "arn:aws:sts::123456789012:assumed-role/py-app/botocore-session-1"}' ;;
debug-unreachable) for i in 1 2 3; do echo "2026-01-01 00:00:0$i,000 - MainThread - botocore.endpoint - DEBUG - Sending http request: <AWSPreparedRequest stream_output=False, method=POST, url=https://sts.amazonaws.com/, headers={'User-Agent': b'aws-cli/2.9.19'}>" >&2; done
  printf '\nCould not connect to the endpoint URL: "https://sts.amazonaws.com/"\n' >&2; exit 255 ;;
second-fails) [ $n = 2 ] && { echo "An error occurred (ExpiredTokenException) when calling the AssumeRoleWithWebIdentity operation: Token expired" >&2; exit 254; }
  echo '{"Arn": "arn:aws:sts::123456789012:assumed-role/py-app/s", "Account": "123456789012"}' ;;
esac
`

// jwt is an unsigned token with iat and exp: what probe.py reads.
func jwt(iat int64) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(fmt.Sprintf(`{"iat":%d,"exp":%d}`, iat, iat+600))) + ".c2ln"
}

type fake struct {
	dir, token string
	env        []string // more of the probe's environment
}

func newFake(t *testing.T) fake {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "aws"), []byte(fakeAWS), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "probe.py"), []byte(Script), 0o644))
	f := fake{dir: dir, token: filepath.Join(dir, "token")}
	require.NoError(t, os.WriteFile(f.token, []byte(jwt(1000)), 0o600))
	return f
}

// run runs probe.py with Debian's python3 and the fake awscli first on PATH.
func (f fake) run(t *testing.T, mode string, args ...string) string {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skipf("no %s (hack/setup-test-tools.sh python3): %v", py, err)
	}
	cmd := exec.Command(py, append([]string{filepath.Join(f.dir, "probe.py")}, args...)...)
	cmd.Env = append([]string{"PATH=" + f.dir + ":/usr/bin:/bin", "FAKE_DIR=" + f.dir, "FAKE_MODE=" + mode, "AWS_WEB_IDENTITY_TOKEN_FILE=" + f.token}, f.env...)
	out, err := cmd.Output()
	require.NoError(t, err, "probe.py always exits 0")
	return string(out)
}

func TestProbeAWSCLI(t *testing.T) {
	tests := []struct {
		name, mode string
		args       []string
		wantArgv   string
		want       probe.Result
	}{
		{name: "identity", mode: "ok", args: []string{"--client", "awscli"}, wantArgv: "sts get-caller-identity --output json",
			want: probe.Result{OK: true, Arn: "arn:aws:sts::123456789012:assumed-role/py-app/botocore-session-1", Account: "123456789012", UserID: "AROAX:botocore-session-1"}},
		{name: "object", mode: "object", args: []string{"--client", "awscli", "s3-get", "app-a-data", "hello.txt"}, wantArgv: "s3 cp s3://app-a-data/hello.txt -",
			want: probe.Result{OK: true, Output: "hello from app-a-data"}},
		{name: "denied", mode: "denied", args: []string{"--client", "awscli"}, wantArgv: "sts get-caller-identity --output json",
			want: probe.Result{ErrorCode: "AccessDenied", ErrorMessage: "Not authorized to perform sts:AssumeRoleWithWebIdentity"}},
		{name: "head-403", mode: "head403", args: []string{"--client", "awscli", "s3-get", "app-b-data", "secret.txt"}, wantArgv: "s3 cp s3://app-b-data/secret.txt -",
			want: probe.Result{ErrorCode: "403", ErrorMessage: "Forbidden"}},
		{name: "after-retries", mode: "retried", args: []string{"--client", "awscli"}, wantArgv: "sts get-caller-identity --output json",
			want: probe.Result{ErrorCode: "InvalidIdentityToken", ErrorMessage: "Incorrect token audience"}},
		{name: "no-error-code", mode: "nocreds", args: []string{"--client", "awscli"}, wantArgv: "sts get-caller-identity --output json",
			want: probe.Result{ErrorCode: "ExitStatus253", ErrorMessage: `Unable to locate credentials. You can configure credentials by running "aws configure".`}},
		{name: "put", mode: "put", args: []string{"--client", "awscli", "s3-put", "app-a-data", "gke/k", "from gke"}, wantArgv: "s3 cp - s3://app-a-data/gke/k",
			want: probe.Result{OK: true}},
		{name: "put-denied", mode: "putdenied", args: []string{"--client", "awscli", "s3-put", "app-b-data", "k", "x"}, wantArgv: "s3 cp - s3://app-b-data/k",
			want: probe.Result{ErrorCode: "AccessDenied", ErrorMessage: "Access Denied"}},
		{name: "publish", mode: "published", args: []string{"--client", "awscli", "sns-publish", "arn:aws:sns:us-west-2:123456789012:t", "hi there"},
			wantArgv: "sns publish --topic-arn arn:aws:sns:us-west-2:123456789012:t --message hi there --output json",
			want:     probe.Result{OK: true, Output: "0b1c2d3e-0000-4000-8000-000000000001"}},
		{name: "unknown-call", args: []string{"--client", "awscli", "s3-delete", "b", "k"}, want: probe.Result{ErrorCode: "UsageError", ErrorMessage: "unknown call ['s3-delete', 'b', 'k']"}},
		{name: "s3-put-without-text", args: []string{"--client", "awscli", "s3-put", "b", "k"}, want: probe.Result{ErrorCode: "UsageError", ErrorMessage: "unknown call ['s3-put', 'b', 'k']"}},
		{name: "sts-hosts", mode: "debug-regional", args: append([]string{"--client", "awscli"}, STSHostsArgs("")...), wantArgv: "--debug sts get-caller-identity --output json",
			want: probe.Result{OK: true, Arn: "arn:aws:sts::123456789012:assumed-role/py-app/botocore-session-1", Account: "123456789012", UserID: "AROAX:botocore-session-1",
				Output: "hosts=sts.us-west-2.amazonaws.com"}},
		{name: "sts-hosts-endpoint-url", mode: "debug-regional", args: append([]string{"--client", "awscli"}, STSHostsArgs("https://sts.us-west-2.amazonaws.com")...),
			wantArgv: "--debug sts get-caller-identity --output json --endpoint-url https://sts.us-west-2.amazonaws.com",
			want: probe.Result{OK: true, Arn: "arn:aws:sts::123456789012:assumed-role/py-app/botocore-session-1", Account: "123456789012", UserID: "AROAX:botocore-session-1",
				Output: "hosts=sts.us-west-2.amazonaws.com"}},
		{name: "sts-hosts-unreachable", mode: "debug-unreachable", args: append([]string{"--client", "awscli"}, STSHostsArgs("")...), wantArgv: "--debug sts get-caller-identity --output json",
			want: probe.Result{ErrorCode: "ExitStatus255", ErrorMessage: `Could not connect to the endpoint URL: "https://sts.amazonaws.com/"`, Output: "hosts=sts.amazonaws.com"}},
		{name: "sts-hosts-two-urls", args: []string{"--client", "awscli", "sts-hosts", "a", "b"}, want: probe.Result{ErrorCode: "UsageError", ErrorMessage: "unknown call ['sts-hosts', 'a', 'b']"}},
		{name: "unknown-client", args: []string{"--client", "curl"}, want: probe.Result{ErrorCode: "UsageError", ErrorMessage: "--client takes boto3 or awscli"}},
		{name: "loop-without-interval", args: []string{"--client", "awscli", "loop", "--duration", "1"}, want: probe.Result{ErrorCode: "UsageError", ErrorMessage: "loop needs --interval (> 0) and --duration or --until-renewed"}},
		{name: "loop-without-end", args: []string{"loop", "--interval", "1"}, want: probe.Result{ErrorCode: "UsageError", ErrorMessage: "loop needs --interval (> 0) and --duration or --until-renewed"}},
		{name: "loop-zero-interval", args: []string{"loop", "--interval", "0", "--until-renewed", "3"}, want: probe.Result{ErrorCode: "UsageError", ErrorMessage: "loop needs --interval (> 0) and --duration or --until-renewed"}},
		{name: "until-renewed-zero", args: []string{"loop", "--interval", "1", "--until-renewed", "0"}, want: probe.Result{ErrorCode: "UsageError", ErrorMessage: "--until-renewed needs at least 1 call"}},
		{name: "until-renewed-not-a-count", args: []string{"loop", "--interval", "1", "--until-renewed", "2.5"}, want: probe.Result{ErrorCode: "UsageError", ErrorMessage: "invalid literal for int() with base 10: '2.5'"}},
		{name: "until-renewed-without-count", args: []string{"loop", "--interval", "1", "--until-renewed"}, want: probe.Result{ErrorCode: "UsageError", ErrorMessage: "--until-renewed needs a number"}},
		{name: "s3-get-without-key", args: []string{"s3-get", "b"}, want: probe.Result{ErrorCode: "UsageError", ErrorMessage: "unknown call ['s3-get', 'b']"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			out := f.run(t, tc.mode, tc.args...)
			require.Equal(t, 1, strings.Count(out, "\n"), "one line: %s", out)
			got, err := probe.Parse(out)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			argv, _ := os.ReadFile(filepath.Join(f.dir, "argv"))
			require.Equal(t, tc.wantArgv, strings.TrimSpace(string(argv)), "what awscli was asked")
			if tc.mode == "put" {
				stdin, err := os.ReadFile(filepath.Join(f.dir, "stdin"))
				require.NoError(t, err)
				require.Equal(t, "from gke", string(stdin), "the object's text goes to aws s3 cp on stdin")
			}
		})
	}
}

func TestProbeLoopReportsTokenChanges(t *testing.T) {
	f := newFake(t)
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "token2"), []byte(jwt(1480)), 0o600))
	start := time.Now()
	out := f.run(t, "ok", append([]string{"--client", "awscli"}, LoopArgs(200*time.Millisecond, 500*time.Millisecond)...)...)
	require.GreaterOrEqual(t, time.Since(start), 400*time.Millisecond, "calls are spaced by the interval")
	calls, sum, err := ParseLoop(out)
	require.NoError(t, err, out)
	require.Len(t, calls, 3, out)
	for i, c := range calls {
		require.Equal(t, i+1, c.Seq)
		require.True(t, c.OK, "%+v", c)
		require.Equal(t, "arn:aws:sts::123456789012:assumed-role/py-app/botocore-session-1", c.Arn)
		require.Empty(t, c.AccessKeyID, "awscli runs a new process per call")
	}
	// The fake rotates the file during the second call, so that call
	// already sees the new token.
	require.Equal(t, []bool{false, true, false}, []bool{calls[0].TokenChanged, calls[1].TokenChanged, calls[2].TokenChanged})
	require.Equal(t, int64(1000), calls[0].TokenIat)
	require.Equal(t, int64(1600), calls[0].TokenExp)
	require.Equal(t, int64(1480), calls[1].TokenIat)
	require.NotEqual(t, calls[0].TokenSha256, calls[1].TokenSha256)
	require.Equal(t, calls[1].TokenSha256, calls[2].TokenSha256)
	require.Equal(t, Summary{Result: probe.Result{OK: true, Arn: calls[2].Arn, Output: "3 calls, 0 failed, 2 tokens, 0 access keys"},
		Calls: 3, Tokens: 2, End: EndDuration, RenewedSeq: 2, RenewedElapsed: calls[1].Elapsed, CallsAfterRenewal: 1}, sum)
	// probe.Parse, as podrun.Run uses it, reads the summary.
	res, err := probe.Parse(out)
	require.NoError(t, err)
	require.Equal(t, sum.Result, res)
}

func TestProbeLoopReportsTheFirstFailure(t *testing.T) {
	f := newFake(t)
	out := f.run(t, "second-fails", append([]string{"--client", "awscli"}, LoopArgs(100*time.Millisecond, 250*time.Millisecond)...)...)
	calls, sum, err := ParseLoop(out)
	require.NoError(t, err, out)
	require.Len(t, calls, 3)
	require.Equal(t, []bool{true, false, true}, []bool{calls[0].OK, calls[1].OK, calls[2].OK})
	require.False(t, sum.OK)
	require.Equal(t, 1, sum.Failures)
	require.Equal(t, "ExpiredTokenException", sum.ErrorCode)
	require.Equal(t, "Token expired", sum.ErrorMessage)
}

func TestParseLoop(t *testing.T) {
	call := `{"ok": true, "seq": 1, "arn": "a", "tokenSha256": "ab", "tokenChanged": false}`
	sum := `{"ok": true, "summary": true, "calls": 1, "tokens": 1, "accessKeys": 1}`
	tests := []struct {
		name, out, err string
	}{
		{name: "call and summary", out: "noise\n" + call + "\n" + sum + "\n"},
		{name: "no summary", out: call + "\n", err: "no loop summary"},
		{name: "line after summary", out: call + "\n" + sum + "\n" + call + "\n", err: "after its summary"},
		{name: "count mismatch", out: sum + "\n", err: "counts 1 calls, printed 0"},
		{name: "usage error", out: `{"ok": false, "errorCode": "UsageError", "errorMessage": "x"}` + "\n", err: "did not loop: UsageError: x"},
		{name: "bad json", out: "{nope\n", err: "python probe line"},
		{name: "empty", out: "", err: "no loop summary"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls, s, err := ParseLoop(tc.out)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, []Call{{Result: probe.Result{OK: true, Arn: "a"}, Seq: 1, TokenSha256: "ab"}}, calls)
			require.Equal(t, Summary{Result: probe.Result{OK: true}, Calls: 1, Tokens: 1, AccessKeys: 1}, s)
		})
	}
}

func TestUse(t *testing.T) {
	p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Image: "idlab/pyclient:x"}}}}
	Use(p, AWSCLI, "s3-get", "b", "k")
	c := p.Spec.Containers[0]
	require.Equal(t, []string{"python3", "/opt/idlab-pyprobe/probe.py"}, c.Command)
	require.Equal(t, []string{"--client", "awscli", "s3-get", "b", "k"}, c.Args)
	require.Equal(t, []corev1.VolumeMount{{Name: "idlab-pyprobe", MountPath: MountPath, ReadOnly: true}}, c.VolumeMounts)
	require.Equal(t, ConfigMap, p.Spec.Volumes[0].ConfigMap.Name)
	require.Equal(t, []string{"loop", "--interval", "2.5", "--duration", "60", "sts"}, LoopArgs(2500*time.Millisecond, time.Minute, "sts"))
}

// FuzzParseLoop: a pod's log is untrusted; whatever it holds, ParseLoop
// does not panic, and what it accepts is consistent.
func FuzzParseLoop(f *testing.F) {
	f.Add(`{"ok": true, "seq": 1}` + "\n" + `{"ok": true, "summary": true, "calls": 1}`)
	f.Add(`{"ok": false, "errorCode": "UsageError"}`)
	f.Add("{\n{}\n")
	f.Fuzz(func(t *testing.T, out string) {
		calls, sum, err := ParseLoop(out)
		if err != nil {
			return
		}
		require.Equal(t, sum.Calls, len(calls))
		for _, c := range calls {
			require.Positive(t, c.Seq)
		}
	})
}

// TestLoopEnd drives probe.py's loop with a fake clock and client
// (testdata/loop_driver.py): the pod starts 5 s after its token's iat
// (1000; exp 1600), calls every 15 s, and the "kubelet" writes a new token
// at renewAt. --until-renewed ends the loop once the new token has been
// used, however late it came, and never more than 30 s past the first
// token's exp.
func TestLoopEnd(t *testing.T) {
	type outcome struct {
		End                           string
		Calls, Failures, Tokens       int
		RenewedSeq, CallsAfterRenewal int
		RenewedElapsed                float64
		ErrorCode                     string
	}
	untilRenewed := []string{"loop", "--interval", "15", "--until-renewed", "3"}
	tests := []struct {
		name        string
		args        []string
		renewAt     int64
		callSeconds float64
		fail        []int
		token       string
		want        outcome
	}{
		// Call 38 (starts at 1560) is the first to read the token written
		// at 1548 (548 s after iat, as a lab run saw); 39-41 use it.
		{name: "renewal seen and used three times", args: untilRenewed, renewAt: 1548, callSeconds: 1,
			want: outcome{End: EndRenewed, Calls: 41, Tokens: 2, RenewedSeq: 38, CallsAfterRenewal: 3, RenewedElapsed: 556}},
		{name: "a failed call after the renewal does not count", args: untilRenewed, renewAt: 1548, callSeconds: 1, fail: []int{39},
			want: outcome{End: EndRenewed, Calls: 42, Failures: 1, Tokens: 2, RenewedSeq: 38, CallsAfterRenewal: 3, RenewedElapsed: 556, ErrorCode: "ExpiredTokenException"}},
		// Seen by call 40 (1590); 41 (1605) and 42 (1620) use it; 43
		// would start at 1635, past exp + 30 s.
		{name: "renewal too late to be used three times", args: untilRenewed, renewAt: 1580, callSeconds: 1,
			want: outcome{End: EndTokenExpired, Calls: 42, Tokens: 2, RenewedSeq: 40, CallsAfterRenewal: 2, RenewedElapsed: 586}},
		// The last call starts at 1620, the next would at 1635.
		{name: "never renewed", args: untilRenewed, callSeconds: 1,
			want: outcome{End: EndTokenExpired, Calls: 42, Tokens: 1}},
		// 20 s calls push the schedule: calls start every 20 s, the last
		// at 1625; the bound is when the next call would really start.
		{name: "slow calls, never renewed", args: untilRenewed, callSeconds: 20,
			want: outcome{End: EndTokenExpired, Calls: 32, Tokens: 1}},
		{name: "token without exp", args: untilRenewed, callSeconds: 1, token: "not-a-jwt",
			want: outcome{End: EndNoTokenExp, Calls: 1, Tokens: 1}},
		{name: "duration caps until-renewed", args: []string{"loop", "--interval", "15", "--duration", "60", "--until-renewed", "3"}, callSeconds: 1,
			want: outcome{End: EndDuration, Calls: 5, Tokens: 1}},
		{name: "duration alone runs on after the renewal", args: []string{"loop", "--interval", "15", "--duration", "60"}, renewAt: 1020, callSeconds: 1,
			want: outcome{End: EndDuration, Calls: 5, Tokens: 2, RenewedSeq: 2, CallsAfterRenewal: 3, RenewedElapsed: 16}},
	}
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skipf("no %s: %v", py, err)
	}
	probeDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(probeDir, "probe.py"), []byte(Script), 0o644))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tokenFile := filepath.Join(t.TempDir(), "token")
			token := tc.token
			if token == "" {
				token = jwt(1000)
			}
			require.NoError(t, os.WriteFile(tokenFile, []byte(token), 0o600))
			spec, err := json.Marshal(map[string]any{"start": 1005, "callSeconds": tc.callSeconds, "fail": append([]int{}, tc.fail...),
				"tokenFile": tokenFile, "renewAt": tc.renewAt, "renewed": jwt(tc.renewAt), "args": tc.args})
			require.NoError(t, err)
			out, err := exec.Command(py, "testdata/loop_driver.py", probeDir, string(spec)).Output()
			require.NoError(t, err, "%s", out)
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			calls, sum, err := ParseLoop(strings.Join(lines[:len(lines)-1], "\n"))
			require.NoError(t, err, "%s", out)
			require.Equal(t, tc.want, outcome{End: sum.End, Calls: sum.Calls, Failures: sum.Failures, Tokens: sum.Tokens,
				RenewedSeq: sum.RenewedSeq, CallsAfterRenewal: sum.CallsAfterRenewal, RenewedElapsed: sum.RenewedElapsed, ErrorCode: sum.ErrorCode})
			require.Equal(t, tc.want.Failures == 0, sum.OK)
			require.Len(t, calls, sum.Calls)
			if tc.want.RenewedSeq > 0 {
				require.True(t, calls[tc.want.RenewedSeq-1].TokenChanged, "the call that saw the new token says so")
			}
			// Calls start on the fixed schedule: every sleep is what is left
			// of the interval after the call.
			var driver struct{ Slept []float64 }
			require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &driver))
			wantSleep := make([]float64, sum.Calls-1)
			for i := range wantSleep {
				wantSleep[i] = max(0, 15-tc.callSeconds)
			}
			require.Equal(t, wantSleep, driver.Slept)
		})
	}
}
