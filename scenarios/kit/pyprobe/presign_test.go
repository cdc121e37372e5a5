package pyprobe

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// fakeBoto3 stands in for boto3 and botocore.config: the client records how
// it was made and what it was asked to presign, and presigns with SigV2 by
// default and SigV4 with Config(signature_version='s3v4'), as botocore 1.29
// does in us-west-2 (the signatures are not real; the fake S3 reads only
// which parameters the URL has).
var fakeBoto3 = map[string]string{
	"boto3/__init__.py": `import json, os


class NoCredentialsError(Exception):
    pass


def client(service, **kwargs):
    return _Client(service, kwargs)


class _Client:
    def __init__(self, service, kwargs):
        self.service, self.kwargs = service, kwargs

    def generate_presigned_url(self, method, Params=None, **rest):
        cfg = self.kwargs.get("config")
        rec = {"service": self.service, "clientArgs": sorted(self.kwargs), "config": getattr(cfg, "kwargs", None),
               "method": method, "params": Params, "otherArgs": sorted(rest)}
        with open(os.path.join(os.environ["FAKE_DIR"], "boto3"), "a") as f:
            f.write(json.dumps(rec, sort_keys=True) + "\n")
        if os.environ["FAKE_MODE"] == "nocreds":
            raise NoCredentialsError("Unable to locate credentials")
        if cfg is None:
            sig = "AWSAccessKeyId=ASIAFAKE&Signature=c2ln&x-amz-security-token=dG9r&Expires=1796532187"
        else:
            sig = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAFAKE%2F20260101%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Signature=00"
        return os.environ["FAKE_URL"] + "/" + Params["Bucket"] + "/" + Params["Key"] + "?" + sig
`,
	"botocore/__init__.py": "",
	"botocore/config.py": `class Config:
    def __init__(self, **kwargs):
        self.kwargs = kwargs
`,
}

const sigV2Refusal = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InvalidRequest</Code><Message>The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.</Message><RequestId>4830D3385B13A6AA</RequestId><HostId>aG9zdA==</HostId></Error>`

// fakeS3 answers a SigV2 URL as S3 does for a bucket created now, a SigV4
// URL with the object, and /broken/ with a body that is not S3's.
func fakeS3(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.Header.Get("Authorization") != "":
			http.Error(w, "a plain fetch sends no Authorization", http.StatusTeapot)
		case strings.HasPrefix(r.URL.Path, "/broken/"):
			http.Error(w, "upstream went away", http.StatusBadGateway)
		case q.Has("AWSAccessKeyId"):
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, sigV2Refusal)
		case q.Has("X-Amz-Credential"):
			_, _ = io.WriteString(w, "hello from "+strings.Split(r.URL.Path, "/")[1])
		default:
			http.Error(w, "unsigned", http.StatusForbidden)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestProbePresignGet(t *testing.T) {
	srv := fakeS3(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "https://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	wantCall := func(config map[string]string, bucket string) map[string]any {
		c := map[string]any{"service": "s3", "clientArgs": []any{}, "config": nil, "method": "get_object",
			"params": map[string]any{"Bucket": bucket, "Key": "hello.txt"}, "otherArgs": []any{}}
		if config != nil {
			c["clientArgs"] = []any{"config"}
			c["config"] = map[string]any{"signature_version": config["signature_version"]}
		}
		return c
	}
	tests := []struct {
		name, mode, url string
		untrusted       bool
		args            []string
		want            Fetch
		wantCall        map[string]any // what boto3 was asked; nil: boto3 not used
		wantMsg         string         // part of errorMessage, when it is not S3's
	}{
		{name: "default client presigns sigv2, refused", url: srv.URL, args: PresignArgs("app-a-data", "hello.txt", false),
			want: Fetch{Result: probe.Result{ErrorCode: "InvalidRequest", ErrorMessage: "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."},
				Status: 400, Signature: "SigV2", Host: "127.0.0.1"},
			wantCall: wantCall(nil, "app-a-data")},
		{name: "s3v4 client, allowed", url: srv.URL, args: PresignArgs("app-a-data", "hello.txt", true),
			want:     Fetch{Result: probe.Result{OK: true, Output: "hello from app-a-data"}, Status: 200, Signature: "SigV4", Host: "127.0.0.1"},
			wantCall: wantCall(map[string]string{"signature_version": "s3v4"}, "app-a-data")},
		{name: "error body that is not s3's", url: srv.URL, args: PresignArgs("broken", "hello.txt", true),
			want:     Fetch{Result: probe.Result{ErrorCode: "HTTP502", ErrorMessage: "upstream went away\n"}, Status: 502, Signature: "SigV4", Host: "127.0.0.1"},
			wantCall: wantCall(map[string]string{"signature_version": "s3v4"}, "broken")},
		{name: "no connection", url: closed, args: PresignArgs("app-a-data", "hello.txt", false),
			want: Fetch{Result: probe.Result{ErrorCode: "URLError"}, Signature: "SigV2", Host: "127.0.0.1"}, wantMsg: "Connection refused",
			wantCall: wantCall(nil, "app-a-data")},
		{name: "server the pod does not trust", url: srv.URL, untrusted: true, args: PresignArgs("app-a-data", "hello.txt", true),
			want: Fetch{Result: probe.Result{ErrorCode: "URLError"}, Signature: "SigV4", Host: "127.0.0.1"}, wantMsg: "CERTIFICATE_VERIFY_FAILED",
			wantCall: wantCall(map[string]string{"signature_version": "s3v4"}, "app-a-data")},
		{name: "no credentials", mode: "nocreds", url: srv.URL, args: PresignArgs("app-a-data", "hello.txt", false),
			want: Fetch{Result: probe.Result{ErrorCode: "NoCredentialsError", ErrorMessage: "Unable to locate credentials"}}, wantCall: wantCall(nil, "app-a-data")},
		{name: "awscli is not a presign client", args: append([]string{"--client", "awscli"}, PresignArgs("b", "k", false)...),
			want: Fetch{Result: probe.Result{ErrorCode: "UsageError", ErrorMessage: "usage: --client boto3 presign-get BUCKET KEY [s3v4]"}}},
		{name: "key missing", args: []string{"--client", "boto3", "presign-get", "b"},
			want: Fetch{Result: probe.Result{ErrorCode: "UsageError", ErrorMessage: "usage: --client boto3 presign-get BUCKET KEY [s3v4]"}}},
		{name: "unknown option", args: []string{"presign-get", "b", "k", "s3v2"},
			want: Fetch{Result: probe.Result{ErrorCode: "UsageError", ErrorMessage: "usage: --client boto3 presign-get BUCKET KEY [s3v4]"}}},
		// A bucket named presign-get is an ordinary s3-get.
		{name: "s3-get of a bucket named presign-get", args: []string{"--client", "awscli", "s3-get", "presign-get"},
			want: Fetch{Result: probe.Result{ErrorCode: "UsageError", ErrorMessage: "unknown call ['s3-get', 'presign-get']"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			pylib := filepath.Join(f.dir, "pylib")
			for name, text := range fakeBoto3 {
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(pylib, name)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(pylib, name), []byte(text), 0o644))
			}
			ca := filepath.Join(f.dir, "ca.pem")
			require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644))
			f.env = []string{"PYTHONPATH=" + pylib, "FAKE_URL=" + tc.url}
			if !tc.untrusted {
				f.env = append(f.env, "SSL_CERT_FILE="+ca)
			}
			out := f.run(t, tc.mode, tc.args...)
			require.Equal(t, 1, strings.Count(out, "\n"), "one line: %s", out)
			got, err := ParseFetch(out)
			require.NoError(t, err)
			if tc.wantMsg != "" {
				require.Contains(t, got.ErrorMessage, tc.wantMsg)
				got.ErrorMessage = ""
			}
			require.Equal(t, tc.want, got)

			raw, err := os.ReadFile(filepath.Join(f.dir, "boto3"))
			if tc.wantCall == nil {
				require.ErrorIs(t, err, os.ErrNotExist, "boto3 is not used")
				return
			}
			require.NoError(t, err)
			var call map[string]any
			require.NoError(t, json.Unmarshal(raw, &call))
			require.Equal(t, tc.wantCall, call, "boto3.client('s3') and generate_presigned_url('get_object', Params=...) as the walk-through calls them")
		})
	}
}

func TestParseFetch(t *testing.T) {
	got, err := ParseFetch("noise\n" + `{"ok": false, "status": 400, "signature": "SigV2", "host": "b.s3.amazonaws.com", "errorCode": "InvalidRequest"}` + "\n")
	require.NoError(t, err)
	require.Equal(t, Fetch{Result: probe.Result{ErrorCode: "InvalidRequest"}, Status: 400, Signature: "SigV2", Host: "b.s3.amazonaws.com"}, got)
	_, err = ParseFetch("Traceback (most recent call last):\n")
	require.ErrorContains(t, err, "python probe presign-get: probe printed no result")
	_, err = ParseFetch(`{"status": "400"}`)
	require.ErrorContains(t, err, "probe result")
	require.Equal(t, []string{"presign-get", "b", "k", "s3v4"}, PresignArgs("b", "k", true))
}

// TestProbeFetchLink: fetch-link reads the app's page as a browser does
// (the first <img src>, its &amp; unescaped) and fetches the link;
// fetch-url fetches a link again. The boto3 on the path fails to import
// and awscli records its runs: neither mode may use an AWS client.
func TestProbeFetchLink(t *testing.T) {
	s3 := fakeS3(t)
	sigV4 := s3.URL + "/app-a-data/hello.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAFAKE%2F20260101%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Signature=00"
	sigV2 := s3.URL + "/app-a-data/hello.txt?AWSAccessKeyId=ASIAFAKE&Signature=c2ln&Expires=1796532187"
	pages := map[string]string{
		"/profile/alice": `<html><body><h1>alice</h1><img src="` + strings.ReplaceAll(sigV4, "&", "&amp;") + `" alt="x"><img src="/second"></body></html>`,
		"/profile/sigv2": `<img alt="v2" src="` + strings.ReplaceAll(sigV2, "&", "&amp;") + `">`,
		"/profile/none":  `<p>no picture</p>`,
	}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, ok := pages[r.URL.Path]
		if !ok {
			http.Error(w, "boto3 said no", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, page)
	}))
	t.Cleanup(app.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	usage := Fetch{Result: probe.Result{ErrorCode: "UsageError", ErrorMessage: "usage: fetch-link PAGE-URL | fetch-url URL"}}
	tests := []struct {
		name    string
		args    []string
		want    Fetch
		wantMsg string // part of errorMessage, when it is not S3's
	}{
		{name: "link fetched", args: FetchLinkArgs(app.URL + "/profile/alice"),
			want: Fetch{Result: probe.Result{OK: true, Output: "hello from app-a-data"}, Status: 200, Signature: "SigV4", Host: "127.0.0.1", Page: 200, Link: sigV4}},
		{name: "with a client named", args: append([]string{"--client", "boto3"}, FetchLinkArgs(app.URL+"/profile/alice")...),
			want: Fetch{Result: probe.Result{OK: true, Output: "hello from app-a-data"}, Status: 200, Signature: "SigV4", Host: "127.0.0.1", Page: 200, Link: sigV4}},
		{name: "sigv2 link refused", args: FetchLinkArgs(app.URL + "/profile/sigv2"),
			want: Fetch{Result: probe.Result{ErrorCode: "InvalidRequest", ErrorMessage: "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."},
				Status: 400, Signature: "SigV2", Host: "127.0.0.1", Page: 200, Link: sigV2}},
		{name: "page fails", args: FetchLinkArgs(app.URL + "/profile/bob"),
			want: Fetch{Result: probe.Result{ErrorCode: "PageHTTP500", ErrorMessage: "boto3 said no\n"}, Page: 500}},
		{name: "page without a link", args: FetchLinkArgs(app.URL + "/profile/none"),
			want: Fetch{Result: probe.Result{ErrorCode: "NoLink", ErrorMessage: "no <img src> in the page: '<p>no picture</p>'"}, Page: 200}},
		{name: "app down", args: FetchLinkArgs(closed + "/profile/alice"),
			want: Fetch{Result: probe.Result{ErrorCode: "URLError"}}, wantMsg: "Connection refused"},
		{name: "url again", args: FetchURLArgs(sigV4),
			want: Fetch{Result: probe.Result{OK: true, Output: "hello from app-a-data"}, Status: 200, Signature: "SigV4", Host: "127.0.0.1"}},
		{name: "sigv2 url again", args: FetchURLArgs(sigV2),
			want: Fetch{Result: probe.Result{ErrorCode: "InvalidRequest", ErrorMessage: "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."},
				Status: 400, Signature: "SigV2", Host: "127.0.0.1"}},
		{name: "no url", args: []string{"fetch-url"}, want: usage},
		{name: "two urls", args: []string{"fetch-link", app.URL, app.URL}, want: usage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			ca := filepath.Join(f.dir, "ca.pem")
			require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s3.Certificate().Raw}), 0o644))
			// A boto3 that cannot be imported comes first on the path.
			for _, mod := range []string{"boto3", "botocore"} {
				require.NoError(t, os.MkdirAll(filepath.Join(f.dir, "pylib", mod), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(f.dir, "pylib", mod, "__init__.py"), []byte(`raise ImportError("fetch modes use no AWS client")`), 0o644))
			}
			f.env = []string{"SSL_CERT_FILE=" + ca, "PYTHONPATH=" + filepath.Join(f.dir, "pylib")}
			out := f.run(t, "", tc.args...)
			require.Equal(t, 1, strings.Count(out, "\n"), "one line: %s", out)
			got, err := ParseFetch(out)
			require.NoError(t, err)
			if tc.wantMsg != "" {
				require.Contains(t, got.ErrorMessage, tc.wantMsg)
				got.ErrorMessage = ""
			}
			require.Equal(t, tc.want, got)
			require.NoFileExists(t, filepath.Join(f.dir, "argv"), "awscli does not run")
		})
	}
}
