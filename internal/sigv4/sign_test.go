package sigv4

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSignVerifies: what Sign produces, Parse and Verify accept with the
// same secret, and refuse with another secret, a changed body or too late.
func TestSignVerifies(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"token":"a.b.c"}`)
	for _, tc := range []struct {
		name  string
		creds Credentials
	}{
		{"long-term key", Credentials{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "secret"}},
		{"session", Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "tok/en+="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodPost, "https://eks-auth.us-west-2.api.aws/clusters/my%20c/assume-role-for-pod-identity", strings.NewReader(string(body)))
			require.NoError(t, err)
			r.Header.Set("Content-Type", "application/json")
			require.NoError(t, Sign(r, body, tc.creds, "us-west-2", "eks-auth", now))
			require.Equal(t, tc.creds.SessionToken, r.Header.Get("X-Amz-Security-Token"))

			s, err := Parse(r)
			require.NoError(t, err)
			require.Equal(t, "eks-auth", s.Service)
			require.Equal(t, tc.creds.SessionToken, s.SecurityToken)
			require.NoError(t, Verify(r, s, "secret", now.Add(time.Minute), Options{Body: body}))

			require.Error(t, Verify(r, s, "other", now, Options{Body: body}), "wrong secret")
			require.Error(t, Verify(r, s, "secret", now, Options{Body: []byte(`{}`)}), "changed body")
			require.Error(t, Verify(r, s, "secret", now.Add(time.Hour), Options{Body: body}), "too late")
		})
	}
	r, _ := http.NewRequest(http.MethodGet, "https://x/", nil)
	require.Error(t, Sign(r, nil, Credentials{}, "us-west-2", "sts", now), "no credentials")
}
