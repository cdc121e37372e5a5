package awsimds_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsimds"
)

func TestAdminHandler(t *testing.T) {
	h, err := awsimds.New(awsimds.Options{})
	require.NoError(t, err)
	srv := httptest.NewServer(h.AdminHandler())
	defer srv.Close()
	tests := []struct {
		name, method, query string
		status              int
		body                string
	}{
		{"read", "GET", "", 200, `{"requireV2":false,"hopLimit":1}`},
		{"hop limit", "POST", "hop-limit=2", 200, `{"requireV2":false,"hopLimit":2}`},
		{"tokens required", "POST", "http-tokens=required", 200, `{"requireV2":true,"hopLimit":2}`},
		{"tokens optional", "POST", "http-tokens=optional", 200, `{"requireV2":false,"hopLimit":2}`},
		{"hop limit not a number", "POST", "hop-limit=x", 400, `hop-limit \"x\": want an integer`},
		{"hop limit out of range", "POST", "hop-limit=65", 400, `HopLimit 65 must be between 1 and 64`},
		{"tokens unknown", "POST", "http-tokens=maybe", 400, `http-tokens \"maybe\": want required or optional`},
		{"unchanged after errors", "GET", "", 200, `{"requireV2":false,"hopLimit":2}`},
		{"other method", "DELETE", "", 405, `"error":"MethodNotAllowed"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+"/_idlab/imds/eks?"+tc.query, nil)
			require.NoError(t, err)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.status, resp.StatusCode, string(raw))
			require.Contains(t, string(raw), tc.body)
		})
	}
}
