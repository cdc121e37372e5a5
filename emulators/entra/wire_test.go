package entra_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/emulators/oidc"
)

func do(t *testing.T, c *http.Client, method, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func TestTokenEndpointWire(t *testing.T) {
	l := newLab(t)
	good := l.ksaToken(t, oidc.TokenRequest{})
	base := func() url.Values {
		return url.Values{
			"grant_type": {"client_credentials"}, "client_id": {clientID},
			"scope":                 {"https://storage.azure.com/.default openid profile offline_access"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {good},
		}
	}
	v2 := "https://login.microsoftonline.com/" + tenantID + "/oauth2/v2.0/token"
	for _, tc := range []struct {
		name   string
		url    string
		edit   func(url.Values)
		status int
		err    string
		code   float64
	}{
		{"ok", v2, func(url.Values) {}, 200, "", 0},
		{"ok by domain-less tenant case", strings.Replace(v2, "72f988bf", "72F988BF", 1), func(url.Values) {}, 200, "", 0},
		{"v1 endpoint with resource", "https://login.microsoftonline.com/" + tenantID + "/oauth2/token", func(v url.Values) {
			v.Del("scope")
			v.Set("resource", "https://storage.azure.com/")
		}, 200, "", 0},
		{"missing grant type", v2, func(v url.Values) { v.Del("grant_type") }, 400, "invalid_request", 900144},
		{"password grant", v2, func(v url.Values) { v.Set("grant_type", "password") }, 400, "unsupported_grant_type", 70003},
		{"missing scope", v2, func(v url.Values) { v.Del("scope") }, 400, "invalid_request", 900144},
		{"scope without .default", v2, func(v url.Values) { v.Set("scope", "https://storage.azure.com/user_impersonation") }, 400, "invalid_scope", 1002012},
		{"two resources", v2, func(v url.Values) {
			v.Set("scope", "https://storage.azure.com/.default https://vault.azure.net/.default")
		}, 400, "invalid_scope", 70011},
		{"unknown resource", v2, func(v url.Values) { v.Set("scope", "https://nothing.example/.default") }, 400, "invalid_resource", 500011},
		{"no credential", v2, func(v url.Values) { v.Del("client_assertion") }, 401, "invalid_client", 7000218},
		{"client secret", v2, func(v url.Values) { v.Del("client_assertion"); v.Set("client_secret", "s3cret") }, 401, "invalid_client", 7000215},
		{"wrong assertion type", v2, func(v url.Values) { v.Set("client_assertion_type", "urn:x") }, 400, "invalid_request", 700011},
		{"malformed assertion", v2, func(v url.Values) { v.Set("client_assertion", "not.a.jwt") }, 400, "invalid_request", 50027},
		{"common tenant", "https://login.microsoftonline.com/common/oauth2/v2.0/token", func(url.Values) {}, 400, "invalid_request", 50059},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := base()
			tc.edit(form)
			status, body := do(t, l.entra.Client(), http.MethodPost, tc.url, form)
			require.Equal(t, tc.status, status, "%v", body)
			if tc.status == 200 {
				require.Equal(t, "Bearer", body["token_type"])
				require.Equal(t, float64(3599), body["expires_in"])
				require.Equal(t, float64(3599), body["ext_expires_in"])
				require.NotEmpty(t, body["access_token"])
				return
			}
			require.Equal(t, tc.err, body["error"])
			require.Equal(t, []any{tc.code}, body["error_codes"])
			require.NotEmpty(t, body["trace_id"])
			require.NotEmpty(t, body["correlation_id"])
			require.Contains(t, body["error_description"], "Trace ID: ")
		})
	}
}

func TestDiscoveryEndpoints(t *testing.T) {
	l := newLab(t)
	c := l.entra.Client()

	status, body := do(t, c, http.MethodGet, "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint="+
		url.QueryEscape(l.entra.URL()+"/"+tenantID+"/oauth2/v2.0/authorize"), nil)
	require.Equal(t, 200, status)
	require.Equal(t, l.entra.URL()+"/"+tenantID+"/v2.0/.well-known/openid-configuration", body["tenant_discovery_endpoint"])

	status, body = do(t, c, http.MethodGet, "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint="+
		url.QueryEscape("https://evil.example/"+tenantID+"/oauth2/v2.0/authorize"), nil)
	require.Equal(t, 400, status)
	require.Equal(t, "invalid_instance", body["error"])

	status, body = do(t, c, http.MethodGet, "https://login.microsoftonline.com/"+tenantID+"/v2.0/.well-known/openid-configuration", nil)
	require.Equal(t, 200, status)
	require.Equal(t, "https://login.microsoftonline.com/"+tenantID+"/v2.0", body["issuer"])
	require.Equal(t, "https://login.microsoftonline.com/"+tenantID+"/oauth2/v2.0/token", body["token_endpoint"])
	require.Equal(t, "https://login.microsoftonline.com/"+tenantID+"/discovery/v2.0/keys", body["jwks_uri"])

	status, body = do(t, c, http.MethodGet, "https://login.microsoftonline.com/"+tenantID+"/discovery/v2.0/keys", nil)
	require.Equal(t, 200, status)
	keys := body["keys"].([]any)
	require.Len(t, keys, 1)
	k := keys[0].(map[string]any)
	require.Equal(t, "RSA", k["kty"])
	require.Equal(t, k["kid"], k["x5t"])
	require.NotEmpty(t, k["x5c"])

	status, _ = do(t, c, http.MethodGet, "https://example.com/"+tenantID+"/discovery/v2.0/keys", nil)
	require.Equal(t, 404, status)
}

func TestAdminAPI(t *testing.T) {
	l := newLab(t)
	c := l.entra.Client()
	newApp := `{"tenant":"t2","clientId":"c2","federatedCredentials":[{"issuer":"` + aksIssuer + `","subject":"system:serviceaccount:a:b"}]}`
	// The server's URL answers only Entra's own API: the admin paths are
	// an unknown tenant's path there.
	for _, base := range []string{l.entra.URL(), "https://login.microsoftonline.com"} {
		resp, err := c.Post(base+entra.AdminPrefix+"apps", "application/json", strings.NewReader(newApp))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	}
	require.Len(t, l.entra.Handler().Apps(), 2, "no app was registered through the server's URL")

	admin := httptest.NewServer(l.entra.Handler().AdminHandler())
	defer admin.Close()
	resp, err := http.Post(admin.URL+entra.AdminPrefix+"apps", "application/json", strings.NewReader(newApp))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	apps := l.entra.Handler().Apps()
	require.Len(t, apps, 3)
	require.Equal(t, []string{entra.DefaultFederatedAudience}, apps[2].FederatedCredentials[0].Audiences)

	_, _ = do(t, c, http.MethodPost, "https://login.microsoftonline.com/"+tenantID+"/oauth2/v2.0/token", url.Values{"grant_type": {"password"}})
	ds := l.entra.Handler().Decisions()
	require.Len(t, ds, 1)
	require.Equal(t, "AADSTS70003", ds[0].Code)
	resp, err = http.Get(admin.URL + entra.AdminPrefix + "decisions")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "the lab's /_idlab/decisions serves them")
}
