package eksauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/eksauth"
)

// FuzzParseRequest feeds arbitrary methods, paths and bodies to the parser
// and the handler: the parser never panics and returns a cluster name that
// matches the model's pattern, and the unsigned handler never answers 200.
func FuzzParseRequest(f *testing.F) {
	iam, err := awsiam.New(awsiam.Options{})
	if err != nil {
		f.Fatal(err)
	}
	h, err := eksauth.New(eksauth.Options{IAM: iam})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("POST", "/clusters/lab/assume-role-for-pod-identity", `{"token":"a.b.c"}`)
	f.Add("POST", "/clusters/a%2Fb/assume-role-for-pod-identity", `{"token":null}`)
	f.Add("GET", "/clusters//assume-role-for-pod-identity", `[]`)
	f.Add("POST", "/clusters/x/assume-role-for-pod-identity", `{"token":"a.b.c","extra":{"deep":[1,2]}}`)
	f.Add("POST", "/clusters/%zz/assume-role-for-pod-identity", "\x00")
	f.Fuzz(func(t *testing.T, method, path, body string) {
		in, err := eksauth.ParseRequest(method, path, []byte(body))
		if err == nil {
			require.Regexp(t, `^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$`, in.ClusterName)
			require.Regexp(t, `^[A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+$`, in.Token)
		} else {
			var ae *eksauth.APIError
			require.ErrorAs(t, err, &ae)
			require.NotEqual(t, http.StatusOK, ae.Status)
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n#?") || !validMethod(method) {
			return
		}
		r := httptest.NewRequest(http.MethodPost, "https://eks-auth.us-east-1.api.aws/", strings.NewReader(body))
		r.Method = method
		r.URL.RawPath, r.URL.Path = path, path
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.NotEqual(t, http.StatusOK, w.Code, w.Body.String())
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}
