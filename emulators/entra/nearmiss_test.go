package entra_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/emulators/oidc"
)

// TestNearMisses: federated credentials that miss the assertion by a
// trailing slash or letter case. Entra answers with its usual code, except
// for a subject that matches only case-insensitively (AADSTS7002138, with
// the message Azure/login#515 quotes); the decision log names the
// credential that nearly matched, which Entra's message does not.
func TestNearMisses(t *testing.T) {
	noSlash := strings.TrimSuffix(aksIssuer, "/")
	tests := []struct {
		name     string
		fic      entra.FederatedCredential
		code     int    // 0: allowed
		message  string // the whole AADSTS message, where the row quotes it
		nearMiss string // Detail["nearMiss"] of the decision
	}{
		{name: "exact", fic: entra.FederatedCredential{Issuer: aksIssuer, Subject: subject}},
		{name: "issuer without the trailing slash", fic: entra.FederatedCredential{Issuer: noSlash, Subject: subject}, code: 700211,
			nearMiss: `federated credential "near" has issuer "` + noSlash + `", which differs from the assertion's "` + aksIssuer + `" only by a trailing slash`},
		{name: "issuer in other case", fic: entra.FederatedCredential{Issuer: strings.ToUpper(aksIssuer), Subject: subject}, code: 700211,
			nearMiss: `federated credential "near" has issuer "` + strings.ToUpper(aksIssuer) + `", which differs from the assertion's "` + aksIssuer + `" only in letter case`},
		{name: "another issuer", fic: entra.FederatedCredential{Issuer: strangerIs, Subject: subject}, code: 700211},
		{name: "subject in other case", fic: entra.FederatedCredential{Issuer: aksIssuer, Subject: "system:serviceaccount:apps:Blob-Reader"}, code: 7002138,
			message: "No matching federated identity record found for presented assertion subject '" + subject + "'. The subject matches with case-insensitive comparison, but not with case-sensitive comparison. " +
				"Check your federated identity credential Subject, Audience and Issuer against the presented assertion. See documentation at: https://learn.microsoft.com/entra/workload-id/workload-identity-federation. " +
				"See breaking change notification and remediation at: https://learn.microsoft.com/en-us/entra/identity-platform/reference-breaking-changes#august-2024.",
			nearMiss: `federated credential "near" has subject "system:serviceaccount:apps:Blob-Reader", which differs from the assertion's "` + subject + `" only in letter case`},
		{name: "another subject", fic: entra.FederatedCredential{Issuer: aksIssuer, Subject: "system:serviceaccount:apps:other"}, code: 700213},
		{name: "audience with a trailing slash", fic: entra.FederatedCredential{Issuer: aksIssuer, Subject: subject, Audiences: []string{entra.DefaultFederatedAudience + "/"}}, code: 700212,
			nearMiss: `federated credential "near" has audience "api://AzureADTokenExchange/", which differs from the assertion's "api://AzureADTokenExchange" only by a trailing slash`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			const app = "c3333333-3333-4333-8333-333333333333"
			tc.fic.Name = "near"
			require.NoError(t, l.entra.Handler().AddApp(entra.App{Tenant: tenantID, ClientID: app, DisplayName: "near-miss",
				FederatedCredentials: []entra.FederatedCredential{tc.fic}}))
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app}, "scope": {"https://storage.azure.com/.default"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {l.ksaToken(t, oidc.TokenRequest{})}}
			l.entra.Handler().ResetDecisions()
			status, body := do(t, l.entra.Client(), http.MethodPost, "https://login.microsoftonline.com/"+tenantID+"/oauth2/v2.0/token", form)
			ds := l.entra.Handler().Decisions()
			require.Len(t, ds, 1)
			d := ds[0]
			if tc.code == 0 {
				require.Equal(t, http.StatusOK, status, "%v", body)
				require.True(t, d.Allowed(), d.Reason)
				require.NotContains(t, d.Detail, "nearMiss")
				return
			}
			require.Equal(t, http.StatusUnauthorized, status, "%v", body)
			require.Equal(t, "invalid_client", body["error"])
			require.Equal(t, []any{float64(tc.code)}, body["error_codes"])
			require.False(t, d.Allowed())
			require.Equal(t, "AADSTS"+strconv.Itoa(tc.code), d.Code)
			if tc.message != "" {
				require.Equal(t, tc.message, d.Reason)
				require.True(t, strings.HasPrefix(body["error_description"].(string), "AADSTS"+strconv.Itoa(tc.code)+": "+tc.message+" Trace ID: "), body["error_description"])
			}
			require.Equal(t, tc.nearMiss, d.Detail["nearMiss"])
		})
	}
}

// TestExactMatchWinsOverNearMiss: an app with the exact credential and a
// case variant of it lets the assertion in.
func TestExactMatchWinsOverNearMiss(t *testing.T) {
	l := newLab(t)
	const app = "c4444444-4444-4444-8444-444444444444"
	require.NoError(t, l.entra.Handler().AddApp(entra.App{Tenant: tenantID, ClientID: app, DisplayName: "both",
		FederatedCredentials: []entra.FederatedCredential{
			{Name: "case", Issuer: aksIssuer, Subject: strings.ToUpper(subject)},
			{Name: "exact", Issuer: aksIssuer, Subject: subject},
		}}))
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app}, "scope": {"https://storage.azure.com/.default"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {l.ksaToken(t, oidc.TokenRequest{})}}
	status, body := do(t, l.entra.Client(), http.MethodPost, "https://login.microsoftonline.com/"+tenantID+"/oauth2/v2.0/token", form)
	require.Equal(t, http.StatusOK, status, "%v", body)
}
