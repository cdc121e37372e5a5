package awsimds_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awsimds"
)

// FuzzRequest sends arbitrary methods, paths, tokens, TTL and hop headers:
// with HttpTokens=required nothing but a PUT that mints a token may answer
// 200 without a token the handler minted, and nothing panics except the
// deliberate abort of a dropped token response.
func FuzzRequest(f *testing.F) {
	iam, err := awsiam.New(awsiam.Options{})
	if err != nil {
		f.Fatal(err)
	}
	if err := iam.LoadFixtureYAML("iam.yaml", []byte(iamFixture)); err != nil {
		f.Fatal(err)
	}
	h, err := awsimds.New(awsimds.Options{IAM: iam, RoleARN: nodeRole, RequireV2: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("GET", "/latest/meta-data/iam/security-credentials/node", "", "", "")
	f.Add("PUT", "/latest/api/token", "", "21600", "1")
	f.Add("PUT", "/latest/api/token", "", "300", "2")
	f.Add("GET", "/latest/meta-data/", "AAAAAAAAAAA", "", "")
	f.Fuzz(func(t *testing.T, method, path, token, ttl, hops string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n#?%") || method == "" || strings.ContainsAny(method, " \t\r\n") {
			return
		}
		r := httptest.NewRequest(http.MethodGet, "http://169.254.169.254/", nil)
		r.Method, r.URL.Path = method, path
		for k, v := range map[string]string{awsimds.TokenHeader: token, awsimds.TTLHeader: ttl, awsimds.HopsHeader: hops} {
			if v != "" && !strings.ContainsAny(v, "\r\n\x00") {
				r.Header.Set(k, v)
			}
		}
		w := httptest.NewRecorder()
		func() {
			defer func() {
				if v := recover(); v != nil && v != http.ErrAbortHandler {
					panic(v)
				}
			}()
			h.ServeHTTP(w, r)
		}()
		if w.Code == http.StatusOK && !(method == http.MethodPut && path == "/latest/api/token") {
			t.Fatalf("answered 200 to %s %s with token %q", method, path, token)
		}
		require.NotZero(t, w.Code)
	})
}
