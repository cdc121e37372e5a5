package azurearm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/internal/decisionlog"
)

const (
	tenantID = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	oid      = "11111111-2222-4333-8444-555555555555"
	sub      = "00000000-0000-0000-0000-000000000000"
)

var now = time.Date(2026, 6, 15, 9, 27, 25, 0, time.UTC)

// fakeDirectory accepts the tokens it knows by their text.
type fakeDirectory map[string]*entra.Claims

func (d fakeDirectory) VerifyAccessToken(tok string) (*entra.Claims, error) {
	switch c, ok := d[tok]; {
	case tok == "expired":
		return nil, fmt.Errorf("%w: %w", entra.ErrInvalidToken, entra.ErrTokenExpired)
	case ok:
		return c, nil
	}
	return nil, entra.ErrInvalidToken
}

func (fakeDirectory) Tenant(id string) (entra.Tenant, bool) {
	if id != tenantID {
		return entra.Tenant{}, false
	}
	return entra.Tenant{ID: id, DisplayName: "idlab", Domains: []string{"idlab.onmicrosoft.com"}}, true
}

// subsOf lists sub for oid only.
type subsOf struct{}

func (subsOf) SubscriptionsOf(tenant, principal string) []string {
	if tenant == tenantID && principal == oid {
		return []string{sub, sub}
	}
	return nil
}

// expiredToken is a JWT (unsigned: only its exp is read) that expired at
// 8:22:51.
const expiredToken = "eyJhbGciOiJub25lIn0.eyJleHAiOjE3ODE1MTE3NzF9."

func newHandler(t *testing.T) (*Handler, *decisionlog.Log) {
	t.Helper()
	claims := func(aud, who string) *entra.Claims {
		return &entra.Claims{Version: "1.0", Audience: aud, TenantID: tenantID, AppID: "app-" + who, ObjectID: who}
	}
	dir := fakeDirectory{
		"arm":     claims("https://management.core.windows.net/", oid),
		"arm2":    claims("https://management.azure.com", oid),
		"norbac":  claims("https://management.azure.com/", "no-rbac"),
		"storage": claims("https://storage.azure.com", oid),
		"noslash": claims("https://management.core.windows.net//", oid),
	}
	log := &decisionlog.Log{}
	h, err := New(Options{Directory: dir, Subscriptions: subsOf{}, Now: func() time.Time { return now }, Decisions: log})
	require.NoError(t, err)
	return h, log
}

// expiredTok is the text fakeDirectory reports expired; its exp is read
// from expiredToken.
const expiredTok = "expired"

func TestServeHTTP(t *testing.T) {
	subJSON := map[string]any{"id": "/subscriptions/" + sub, "authorizationSource": "RoleBased", "managedByTenants": []any{},
		"subscriptionId": sub, "tenantId": tenantID, "displayName": sub, "state": "Enabled",
		"subscriptionPolicies": map[string]any{"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}}
	list := func(v ...any) map[string]any {
		if v == nil {
			v = []any{}
		}
		return map[string]any{"value": v, "count": map[string]any{"type": "Total", "value": float64(len(v))}}
	}
	armErr := func(code, msg string) map[string]any {
		return map[string]any{"error": map[string]any{"code": code, "message": msg}}
	}
	audMsg := "The access token has been obtained for wrong audience or resource '%s'. It should exactly match with one of the allowed audiences " +
		"'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."
	for _, tc := range []struct {
		name, method, path, auth string
		status                   int
		body                     map[string]any // nil: not JSON
		effect, code             string         // the decision; "" = none recorded
	}{
		{name: "subscriptions", method: "GET", path: "/subscriptions?api-version=2019-11-01", auth: "Bearer arm",
			status: 200, body: list(subJSON), effect: "Allow"},
		{name: "management.azure.com audience", method: "GET", path: "/subscriptions/?api-version=2022-12-01", auth: "bearer arm2",
			status: 200, body: list(subJSON), effect: "Allow"},
		{name: "no role assignment lists none", method: "GET", path: "/subscriptions?api-version=2019-11-01", auth: "Bearer norbac",
			status: 200, body: list(), effect: "Allow"},
		{name: "tenants", method: "GET", path: "/tenants?api-version=2022-12-01", auth: "Bearer arm", status: 200,
			body: list(map[string]any{"id": "/tenants/" + tenantID, "tenantId": tenantID, "tenantCategory": "Home", "displayName": "idlab",
				"domains": []any{"idlab.onmicrosoft.com"}, "defaultDomain": "idlab.onmicrosoft.com", "tenantType": "AAD"}), effect: "Allow"},
		{name: "no authorization", method: "GET", path: "/subscriptions?api-version=2019-11-01", status: 401,
			body: armErr(CodeAuthenticationFailed, "Authentication failed. The 'Authorization' header is missing."), effect: "Deny", code: CodeAuthenticationFailed},
		{name: "not bearer", method: "GET", path: "/subscriptions?api-version=2019-11-01", auth: "Basic arm", status: 401,
			body: armErr(CodeInvalidAuthenticationToken, "The access token is invalid."), effect: "Deny", code: CodeInvalidAuthenticationToken},
		{name: "bad token", method: "GET", path: "/subscriptions?api-version=2019-11-01", auth: "Bearer forged", status: 401,
			body: armErr(CodeInvalidAuthenticationToken, "The access token is invalid."), effect: "Deny", code: CodeInvalidAuthenticationToken},
		{name: "storage token", method: "GET", path: "/subscriptions?api-version=2019-11-01", auth: "Bearer storage", status: 401,
			body: armErr(CodeInvalidAuthenticationTokenAudience, fmt.Sprintf(audMsg, "https://storage.azure.com")), effect: "Deny", code: CodeInvalidAuthenticationTokenAudience},
		{name: "audience with a double slash", method: "GET", path: "/tenants?api-version=2019-11-01", auth: "Bearer noslash", status: 401,
			body: armErr(CodeInvalidAuthenticationTokenAudience, fmt.Sprintf(audMsg, "https://management.core.windows.net//")), effect: "Deny", code: CodeInvalidAuthenticationTokenAudience},
		{name: "no api-version", method: "GET", path: "/subscriptions", auth: "Bearer arm", status: 400,
			body: armErr(CodeMissingAPIVersionParameter, "The api-version query parameter (?api-version=) is required for all requests."), effect: "Deny", code: CodeMissingAPIVersionParameter},
		{name: "other path", method: "GET", path: "/subscriptions/" + sub + "/resourceGroups?api-version=2021-04-01", auth: "Bearer arm", status: 404},
		{name: "other method", method: "POST", path: "/subscriptions?api-version=2019-11-01", auth: "Bearer arm", status: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, log := newHandler(t)
			req := httptest.NewRequest(tc.method, "https://management.azure.com"+tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			ds := log.Entries(decisionlog.Filter{})
			if tc.body == nil {
				require.Empty(t, ds)
				require.Contains(t, rec.Body.String(), "idlab: the lab's Azure Resource Manager serves GET /subscriptions, GET /tenants and GET or PATCH of a virtual machine scale set only")
				return
			}
			var got map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			require.Equal(t, tc.body, got)
			require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
			require.NotEmpty(t, rec.Header().Get("x-ms-request-id"))
			require.Len(t, ds, 1)
			require.Equal(t, tc.effect, ds[0].Effect, ds[0].Reason)
			require.Equal(t, tc.code, ds[0].Code)
			require.Equal(t, Service, ds[0].Service)
			require.Equal(t, rec.Header().Get("x-ms-request-id"), ds[0].RequestID)
			if tc.status >= 400 {
				require.Equal(t, "gateway", rec.Header().Get("x-ms-failure-cause"))
			}
		})
	}
}

func TestExpiredToken(t *testing.T) {
	h, log := newHandler(t)
	h.opts.Directory = expiringDirectory{}
	req := httptest.NewRequest("GET", "https://management.azure.com/subscriptions?api-version=2019-11-01", nil)
	req.Header.Set("Authorization", "Bearer "+expiredToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.JSONEq(t, `{"error":{"code":"ExpiredAuthenticationToken","message":"The access token expiry UTC time '6/15/2026 8:22:51 AM' is earlier than current UTC time '6/15/2026 9:27:25 AM'."}}`, rec.Body.String())
	require.Equal(t, CodeExpiredAuthenticationToken, log.Entries(decisionlog.Filter{})[0].Code)
}

// expiringDirectory reports every token expired.
type expiringDirectory struct{ fakeDirectory }

func (expiringDirectory) VerifyAccessToken(string) (*entra.Claims, error) {
	return nil, fmt.Errorf("%w: %w", entra.ErrInvalidToken, entra.ErrTokenExpired)
}

func TestNewNeedsADirectory(t *testing.T) {
	_, err := New(Options{})
	require.True(t, errors.Is(err, ErrNoDirectory))
}

func TestNewServerZeroOptions(t *testing.T) {
	s, err := NewServer(Options{})
	require.NoError(t, err)
	defer s.Close()
	resp, err := s.Client().Get(s.URL() + "/subscriptions?api-version=2019-11-01")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}
