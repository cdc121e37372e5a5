package azurearm

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzServeHTTP sends any path, query and Authorization header: the
// handler never panics, answers the two reads with JSON (a list or an ARM
// error) and everything else with the lab's 404.
func FuzzServeHTTP(f *testing.F) {
	for _, s := range [][2]string{
		{"/subscriptions?api-version=2019-11-01", "Bearer arm"},
		{"/tenants?api-version=2022-12-01", "bearer storage"},
		{"/subscriptions", ""},
		{"/subscriptions/?api-version=", "Bearer " + expiredToken},
		{"/tenants/x", "Bearer"},
		{"/%zz", "Bearer  arm "},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, target, auth string) {
		h, _ := newHandler(t)
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") {
			return
		}
		req := httptest.NewRequest("GET", "https://management.azure.com/", nil)
		req.URL = u
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		p := strings.TrimSuffix(u.Path, "/")
		if _, ok := parseScaleSetPath(u.Path); ok {
			return // TestScaleSetIdentity and FuzzParseIdentityPatch
		}
		if p != "/subscriptions" && p != "/tenants" {
			require.Equal(t, 404, rec.Code)
			return
		}
		var body map[string]any
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
		if rec.Code == 200 {
			require.Contains(t, body, "value")
		} else {
			require.Contains(t, body, "error")
		}
	})
}
