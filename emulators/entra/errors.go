package entra

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// aadError is an Entra error response (RFC 6749 section 5.2 plus Entra's
// error_codes, trace and correlation IDs), rendered once by writeAADError.
type aadError struct {
	Status int    // HTTP status: 401 for invalid_client, 400 otherwise
	Error  string // OAuth error: invalid_request, invalid_client, ...
	Code   int    // AADSTS code
	Msg    string // the text after "AADSTSnnn: "
}

func (e *aadError) String() string { return fmt.Sprintf("AADSTS%d: %s", e.Code, e.Msg) }

// Messages and codes of the errors the emulator returns, worded as Entra
// words them.
const wifDocs = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"

func errTenantNotFound(tenant string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)}
}

func errNoTenantInfo() *aadError {
	return &aadError{http.StatusBadRequest, "invalid_request", 50059, "No tenant-identifying information found in either the request or implied by any provided credentials."}
}

func errInvalidInstance() *aadError {
	return &aadError{http.StatusBadRequest, "invalid_instance", 50049, "Unknown or invalid instance."}
}

func errAppNotFound(clientID, tenantName string) *aadError {
	return &aadError{http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenantName)}
}

func errMissingParam(name string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_request", 900144, fmt.Sprintf("The request body must contain the following parameter: '%s'.", name)}
}

func errNoCredential() *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

func errClientSecret(clientID string) *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)}
}

func errGrantType(grant string) *aadError {
	return &aadError{http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant)}
}

func errAssertionType(t string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_request", 700011, fmt.Sprintf("The client_assertion_type '%s' is not supported. Use urn:ietf:params:oauth:client-assertion-type:jwt-bearer.", t)}
}

func errMalformedAssertion() *aadError {
	return &aadError{http.StatusBadRequest, "invalid_request", 50027, "JWT token is invalid or malformed."}
}

func errScopeNotDefault(scope string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)}
}

func errScopeInvalid(scope string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_scope", 70011, fmt.Sprintf("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope)}
}

func errResourceNotFound(resource, tenantName string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, tenantName)}
}

func errNoIssuerMatch(iss string) *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 700211, fmt.Sprintf("No matching federated identity record found for presented assertion issuer '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. %s", iss, wifDocs)}
}

func errNoSubjectMatch(sub string) *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 700213, fmt.Sprintf("No matching federated identity record found for presented assertion subject '%s'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. %s", sub, wifDocs)}
}

// errSubjectCaseMismatch is Entra's refusal of a subject that a federated
// credential holds in another letter case (Azure/login#515 quotes it).
func errSubjectCaseMismatch(sub string) *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 7002138, fmt.Sprintf("No matching federated identity record found for presented assertion subject '%s'. The subject matches with case-insensitive comparison, but not with case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. See documentation at: %s. See breaking change notification and remediation at: https://learn.microsoft.com/en-us/entra/identity-platform/reference-breaking-changes#august-2024.", sub, wifDocs)}
}

func errNoAudienceMatch(aud string) *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 700212, fmt.Sprintf("No matching federated identity record found for presented assertion audience '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. %s", aud, wifDocs)}
}

func errIssuerUnreachable(iss string) *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 50166, fmt.Sprintf("Request to External OIDC endpoint failed. Issuer: '%s'.", iss)}
}

func errKeyNotFound(kid, iss string) *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 7000272, fmt.Sprintf("The certificate with identifier %s used to sign the federated credential could not be found in the metadata of identity provider %s. Please validate that your Identity Provider's metadata exposes the key used to sign the incoming token.", kid, iss)}
}

func errBadSignature(reason string) *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 50013, fmt.Sprintf("Assertion failed signature validation. [Reason - %s]", reason)}
}

func errTimeRange(now time.Time, nbf, exp *time.Time) *aadError {
	f := func(t *time.Time) string {
		if t == nil {
			return "(none)"
		}
		return t.UTC().Format("2006-01-02T15:04:05.0000000Z")
	}
	return &aadError{http.StatusUnauthorized, "invalid_client", 700024, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .", f(&now), f(nbf), f(exp))}
}

// errorBody is the JSON Entra returns with an error.
type errorBody struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	Timestamp     string `json:"timestamp"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	ErrorURI      string `json:"error_uri"`
}

// writeAADError renders e as Entra does: the description ends with the
// trace ID, correlation ID and timestamp, repeated as fields.
func writeAADError(w http.ResponseWriter, e *aadError, ids requestIDs, now time.Time) {
	ts := now.UTC().Format("2006-01-02 15:04:05Z")
	body := errorBody{
		Error:         e.Error,
		Description:   fmt.Sprintf("%s Trace ID: %s Correlation ID: %s Timestamp: %s", e.String(), ids.trace, ids.correlation, ts),
		Codes:         []int{e.Code},
		Timestamp:     ts,
		TraceID:       ids.trace,
		CorrelationID: ids.correlation,
		ErrorURI:      "https://login.microsoftonline.com/error?code=" + strconv.Itoa(e.Code),
	}
	writeJSON(w, e.Status, ids, body)
}

// writeJSON writes an Entra JSON response with its no-cache headers.
func writeJSON(w http.ResponseWriter, status int, ids requestIDs, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	if ids.trace != "" {
		h.Set("x-ms-request-id", ids.trace)
	}
	if ids.echo {
		h.Set("client-request-id", ids.correlation)
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// requestIDs are the trace ID Entra gives each request and the correlation
// ID: the client's client-request-id when it sent one (MSAL does; Entra
// echoes it when return-client-request-id is true), else a fresh one.
type requestIDs struct {
	trace, correlation string
	echo               bool
}

func newRequestIDs(r *http.Request) requestIDs {
	ids := requestIDs{trace: newUUID(), correlation: r.Header.Get("client-request-id")}
	if ids.correlation == "" || len(ids.correlation) > 64 {
		ids.correlation = newUUID()
	} else {
		ids.echo = r.Header.Get("return-client-request-id") == "true"
	}
	return ids
}

// newUUID returns a random RFC 4122 version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
