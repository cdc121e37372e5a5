package azureimds_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/azureimds"
	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/internal/decisionlog"
)

const storage = "https://storage.azure.com/"

func get(t *testing.T, e *env, path string, q url.Values, metadata string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.imds.URL()+path+"?"+q.Encode(), nil)
	require.NoError(t, err)
	if metadata != "" {
		req.Header.Set("Metadata", metadata)
	}
	resp, err := e.imds.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusNotFound {
		require.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	}
	var body map[string]any
	if resp.StatusCode != http.StatusNotFound {
		require.NoError(t, json.Unmarshal(raw, &body), string(raw))
	}
	return resp.StatusCode, body
}

func query(kv ...string) url.Values {
	q := url.Values{"api-version": {"2018-02-01"}, "resource": {storage}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

func invalid(desc string) map[string]any {
	return map[string]any{"error": "invalid_request", "error_description": desc}
}

// TestTokenEndpointWire is every answer of the token endpoint.
func TestTokenEndpointWire(t *testing.T) {
	notFound := invalid("Identity not found")
	multiple := invalid("Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request")
	for _, tc := range []struct {
		name     string
		assigned []string
		path     string
		q        url.Values
		metadata string
		status   int
		body     map[string]any // errors
		client   string         // success: the identity's client ID
	}{
		{name: "one identity, none named", assigned: []string{"reader"}, q: query(), metadata: "true", status: 200, client: readerID},
		{name: "path in capitals", assigned: []string{"reader"}, path: "/METADATA/identity/oauth2/token", q: query(), metadata: "true", status: 200, client: readerID},
		{name: "by client_id", assigned: []string{"reader", "team-b"}, q: query("client_id", teamBID), metadata: "true", status: 200, client: teamBID},
		{name: "by object_id", assigned: []string{"reader", "team-b"}, q: query("object_id", entra.App{Tenant: tenantID, ClientID: readerID}.ObjectID()), metadata: "true", status: 200, client: readerID},
		{name: "by msi_res_id", assigned: []string{"reader", "team-b"}, q: query("msi_res_id", rid("team-b")), metadata: "true", status: 200, client: teamBID},
		{name: "by mi_res_id", assigned: []string{"reader", "team-b"}, q: query("mi_res_id", rid("reader")), metadata: "true", status: 200, client: readerID},
		{name: "no Metadata header", assigned: []string{"reader"}, q: query(), status: 400, body: invalid("Required metadata header not specified")},
		{name: "Metadata True", assigned: []string{"reader"}, q: query(), metadata: "True", status: 400, body: invalid("Required metadata header not specified")},
		{name: "no api-version", assigned: []string{"reader"}, q: query("api-version", ""), metadata: "true", status: 400, body: map[string]any{
			"error":           "Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds",
			"newest-versions": []any{"2023-07-01", "2021-12-13", "2021-11-15"}}},
		{name: "no resource", assigned: []string{"reader"}, q: query("resource", ""), metadata: "true", status: 400, body: invalid("Required audience parameter not specified")},
		{name: "nothing assigned", q: query(), metadata: "true", status: 400, body: notFound},
		{name: "two assigned, none named", assigned: []string{"reader", "team-b"}, q: query(), metadata: "true", status: 400, body: multiple},
		{name: "named identity not assigned", assigned: []string{"reader"}, q: query("client_id", strangeID), metadata: "true", status: 400, body: notFound},
		{name: "named identity does not exist", assigned: []string{"reader"}, q: query("client_id", "99999999-9999-4999-8999-999999999999"), metadata: "true", status: 400, body: notFound},
		{name: "unknown resource", assigned: []string{"reader"}, q: query("resource", "https://nothing.example.com"), metadata: "true", status: 400, body: map[string]any{
			"error": "invalid_resource", "error_description": "AADSTS500011: The resource principal named https://nothing.example.com was not found in the tenant named " + tenantID + ". This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."}},
		{name: "other path", assigned: []string{"reader"}, path: "/metadata/instance", q: query(), metadata: "true", status: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.assigned...)
			path := tc.path
			if path == "" {
				path = "/metadata/identity/oauth2/token"
			}
			status, body := get(t, e, path, tc.q, tc.metadata)
			require.Equal(t, tc.status, status)
			if status == 404 {
				return
			}
			d := e.imds.Handler().Decisions()
			require.Len(t, d, 1)
			if tc.status != 200 {
				require.Equal(t, tc.body, body)
				require.Equal(t, decisionlog.Deny, d[0].Effect)
				return
			}
			require.Equal(t, decisionlog.Allow, d[0].Effect)
			require.Equal(t, tc.client, body["client_id"])
			require.Equal(t, storage, body["resource"])
			require.Equal(t, "Bearer", body["token_type"])
			now := e.clock.Now()
			require.Equal(t, "86400", body["expires_in"])
			require.Equal(t, "86400", body["ext_expires_in"])
			require.Equal(t, strconv.FormatInt(now.Add(24*time.Hour).Unix(), 10), body["expires_on"])
			require.Equal(t, strconv.FormatInt(now.Unix(), 10), body["not_before"])
			c, err := e.entra.VerifyAccessToken(body["access_token"].(string))
			require.NoError(t, err)
			require.Equal(t, tc.client, c.AppID)
			require.Equal(t, storage, c.Audience)
		})
	}
}

// TestTokenCache: IMDS hands out the same token while more than five
// minutes remain, expires_in counting down, then a new one.
func TestTokenCache(t *testing.T) {
	e := newEnv(t, "reader")
	_, first := get(t, e, "/metadata/identity/oauth2/token", query(), "true")
	e.clock.Add(time.Hour)
	_, again := get(t, e, "/metadata/identity/oauth2/token", query(), "true")
	require.Equal(t, first["access_token"], again["access_token"])
	require.Equal(t, "82800", again["expires_in"])
	e.clock.Add(23*time.Hour - 5*time.Minute)
	_, renewed := get(t, e, "/metadata/identity/oauth2/token", query(), "true")
	require.NotEqual(t, first["access_token"], renewed["access_token"])
	require.Equal(t, "86400", renewed["expires_in"])
}

// TestAssignmentFollowsPatches: unassigning an identity takes its tokens
// away at once; the admin API's patches have ARM's shape.
func TestAssignmentFollowsPatches(t *testing.T) {
	e := newEnv(t)
	admin := e.imds.Handler().AdminHandler()
	patch := func(body string) (int, string) {
		rec := newRecorder()
		req, err := http.NewRequest(http.MethodPatch, "/", stringsReader(body))
		require.NoError(t, err)
		admin.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	code, body := patch(`{"identity":{"userAssignedIdentities":{"` + rid("reader") + `":{}}}}`)
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"identity":{"type":"UserAssigned","userAssignedIdentities":{"`+rid("reader")+`":{"principalId":"`+
		entra.App{Tenant: tenantID, ClientID: readerID}.ObjectID()+`","clientId":"`+readerID+`"}}}}`, body)
	status, _ := get(t, e, "/metadata/identity/oauth2/token", query(), "true")
	require.Equal(t, 200, status)

	code, body = patch(`{"identity":{"userAssignedIdentities":{"/subscriptions/x/resourcegroups/y/providers/Microsoft.ManagedIdentity/userAssignedIdentities/none":{}}}}`)
	require.Equal(t, 400, code)
	require.Contains(t, body, "no such user-assigned identity")

	code, body = patch(`{"identity":{"userAssignedIdentities":{"` + rid("reader") + `":null}}}`)
	require.Equal(t, 200, code)
	require.JSONEq(t, `{"identity":{"type":"None"}}`, body)
	status, resp := get(t, e, "/metadata/identity/oauth2/token", query(), "true")
	require.Equal(t, 400, status)
	require.Equal(t, invalid("Identity not found"), resp)

	require.ErrorIs(t, e.imds.Handler().Assign(rid("nobody")), azureimds.ErrUnknownIdentity)
}
