package pyprobe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// fakeSTSBoto3 stands in for boto3's session and botocore: the STS client
// records how it was made and logs, as botocore.endpoint does, one
// "Sending http request" line per host in FAKE_HOSTS (the credential
// chain's call first), then fails as FAKE_MODE says or answers
// GetCallerIdentity. What botocore 1.29 really sends where is the e2e
// rows' to show (scenarios/pyclients); this checks what the probe makes of
// the lines.
var fakeSTSBoto3 = map[string]string{
	"boto3/__init__.py": "from . import session\n",
	"boto3/session.py": `import json, logging, os
from botocore.exceptions import ClientError, EndpointConnectionError

log = logging.getLogger("botocore.endpoint")


class Session:
    def client(self, service, **kwargs):
        with open(os.path.join(os.environ["FAKE_DIR"], "boto3"), "a") as f:
            f.write(json.dumps({"service": service, "kwargs": kwargs}, sort_keys=True) + "\n")
        return _STS()


class _STS:
    def get_caller_identity(self):
        for host in os.environ["FAKE_HOSTS"].split(","):
            log.debug("Sending http request: %s", "<AWSPreparedRequest stream_output=False, method=POST, url=https://%s/, headers={'X': b'y'}>" % host)
        mode = os.environ["FAKE_MODE"]
        if mode == "unreachable":
            raise EndpointConnectionError('Could not connect to the endpoint URL: "https://sts.amazonaws.com/"')
        if mode == "denied":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Not authorized"}}, "AssumeRoleWithWebIdentity")
        return {"Arn": "arn:aws:sts::123456789012:assumed-role/py-app/s", "Account": "123456789012", "UserId": "AROAX:s"}
`,
	"botocore/__init__.py": "",
	"botocore/exceptions.py": `class ClientError(Exception):
    def __init__(self, response, operation):
        super().__init__(operation)
        self.response = response


class EndpointConnectionError(Exception):
    pass
`,
}

func TestProbeBoto3STSHosts(t *testing.T) {
	tests := []struct {
		name, mode, hosts, endpoint string
		want                        probe.Result
	}{
		{name: "regional", mode: "ok", hosts: "sts.us-west-2.amazonaws.com,sts.us-west-2.amazonaws.com",
			want: probe.Result{OK: true, Arn: "arn:aws:sts::123456789012:assumed-role/py-app/s", Account: "123456789012", UserID: "AROAX:s", Output: "hosts=sts.us-west-2.amazonaws.com"}},
		{name: "global then the app's endpoint", mode: "ok", hosts: "sts.amazonaws.com,sts.us-west-2.amazonaws.com", endpoint: "https://sts.us-west-2.amazonaws.com",
			want: probe.Result{OK: true, Arn: "arn:aws:sts::123456789012:assumed-role/py-app/s", Account: "123456789012", UserID: "AROAX:s",
				Output: "hosts=sts.amazonaws.com,sts.us-west-2.amazonaws.com"}},
		{name: "global unreachable", mode: "unreachable", hosts: "sts.amazonaws.com,sts.amazonaws.com", endpoint: "https://sts.us-west-2.amazonaws.com",
			want: probe.Result{ErrorCode: "EndpointConnectionError", ErrorMessage: `Could not connect to the endpoint URL: "https://sts.amazonaws.com/"`, Output: "hosts=sts.amazonaws.com"}},
		{name: "refused", mode: "denied", hosts: "sts.us-west-2.amazonaws.com",
			want: probe.Result{ErrorCode: "AccessDenied", ErrorMessage: "Not authorized", Output: "hosts=sts.us-west-2.amazonaws.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			pylib := filepath.Join(f.dir, "pylib")
			for name, text := range fakeSTSBoto3 {
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(pylib, name)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(pylib, name), []byte(text), 0o644))
			}
			f.env = []string{"PYTHONPATH=" + pylib, "FAKE_HOSTS=" + tc.hosts}
			out := f.run(t, tc.mode, append([]string{"--client", "boto3"}, STSHostsArgs(tc.endpoint)...)...)
			require.Equal(t, 1, strings.Count(out, "\n"), "one line, the debug lines kept out of it: %s", out)
			got, err := probe.Parse(out)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			raw, err := os.ReadFile(filepath.Join(f.dir, "boto3"))
			require.NoError(t, err)
			var made struct {
				Service string            `json:"service"`
				Kwargs  map[string]string `json:"kwargs"`
			}
			require.NoError(t, json.Unmarshal(raw, &made))
			require.Equal(t, "sts", made.Service)
			if tc.endpoint == "" {
				require.Empty(t, made.Kwargs)
			} else {
				require.Equal(t, map[string]string{"endpoint_url": tc.endpoint}, made.Kwargs)
			}
		})
	}
}

func TestSTSHostsArgs(t *testing.T) {
	require.Equal(t, []string{"sts-hosts"}, STSHostsArgs(""))
	require.Equal(t, []string{"sts-hosts", "https://sts.us-west-2.amazonaws.com"}, STSHostsArgs("https://sts.us-west-2.amazonaws.com"))
}
