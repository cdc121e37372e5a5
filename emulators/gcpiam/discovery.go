package gcpiam

import (
	"net/http"
	"strings"
)

// discoveryDoc is accounts.google.com's OpenID configuration.
type discoveryDoc struct {
	Issuer                      string   `json:"issuer"`
	AuthorizationEndpoint       string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint string   `json:"device_authorization_endpoint"`
	TokenEndpoint               string   `json:"token_endpoint"`
	UserinfoEndpoint            string   `json:"userinfo_endpoint"`
	RevocationEndpoint          string   `json:"revocation_endpoint"`
	JWKSURI                     string   `json:"jwks_uri"`
	ResponseTypes               []string `json:"response_types_supported"`
	ResponseModes               []string `json:"response_modes_supported"`
	SubjectTypes                []string `json:"subject_types_supported"`
	SigningAlgs                 []string `json:"id_token_signing_alg_values_supported"`
	Scopes                      []string `json:"scopes_supported"`
	TokenAuthMethods            []string `json:"token_endpoint_auth_methods_supported"`
	Claims                      []string `json:"claims_supported"`
	CodeChallengeMethods        []string `json:"code_challenge_methods_supported"`
	GrantTypes                  []string `json:"grant_types_supported"`
}

// JWKSURL is where Google publishes its ID-token keys.
const JWKSURL = "https://www.googleapis.com/oauth2/v3/certs"

var googleDiscovery = discoveryDoc{
	Issuer:                      Issuer,
	AuthorizationEndpoint:       "https://accounts.google.com/o/oauth2/v2/auth",
	DeviceAuthorizationEndpoint: "https://oauth2.googleapis.com/device/code",
	TokenEndpoint:               "https://oauth2.googleapis.com/token",
	UserinfoEndpoint:            "https://openidconnect.googleapis.com/v1/userinfo",
	RevocationEndpoint:          "https://oauth2.googleapis.com/revoke",
	JWKSURI:                     JWKSURL,
	ResponseTypes:               []string{"code", "token", "id_token", "code token", "code id_token", "token id_token", "code token id_token", "none"},
	ResponseModes:               []string{"query", "fragment", "form_post"},
	SubjectTypes:                []string{"public"},
	SigningAlgs:                 []string{"RS256"},
	Scopes:                      []string{"openid", "email", "profile"},
	TokenAuthMethods:            []string{"client_secret_post", "client_secret_basic"},
	Claims:                      []string{"aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss", "name", "picture", "sub"},
	CodeChallengeMethods:        []string{"plain", "S256"},
	GrantTypes: []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code",
		"urn:ietf:params:oauth:grant-type:jwt-bearer"},
}

func cachePublic(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
}

func (h *Handler) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeAPIError(w, &apiError{Code: http.StatusMethodNotAllowed, Status: "INVALID_ARGUMENT", Message: "method not allowed"})
		return
	}
	writeJSONCached(w, googleDiscovery)
}

func writeJSONCached(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	cachePublic(w)
	w.WriteHeader(http.StatusOK)
	_ = jsonEncode(w, v)
}

// serveJWKS answers /oauth2/v3/certs.
func (h *Handler) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	h.mu.RLock()
	k := h.signer
	h.mu.RUnlock()
	writeJSONCached(w, map[string]any{"keys": []any{k.jwk()}})
}

// serveX509 answers /oauth2/v1/certs: kid -> PEM certificate.
func (h *Handler) serveX509(w http.ResponseWriter, _ *http.Request) {
	h.mu.RLock()
	k := h.signer
	h.mu.RUnlock()
	writeJSONCached(w, map[string]string{k.id: k.certPEM()})
}

// serveSAKeys answers /service_accounts/v1/jwk/EMAIL and
// /service_accounts/v1/metadata/x509/EMAIL: the keys signJwt and signBlob
// sign with, so relying parties can verify them.
func (h *Handler) serveSAKeys(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/service_accounts/v1/")
	var kind, email string
	switch {
	case strings.HasPrefix(rest, "jwk/"):
		kind, email = "jwk", strings.TrimPrefix(rest, "jwk/")
	case strings.HasPrefix(rest, "metadata/x509/"):
		kind, email = "x509", strings.TrimPrefix(rest, "metadata/x509/")
	default:
		writeAPIError(w, apiNotFound("Not Found"))
		return
	}
	h.mu.Lock()
	sa := h.accountLocked(email)
	var k *signingKey
	var err error
	if sa != nil {
		k, err = h.saKeyLocked(sa.Email)
	}
	h.mu.Unlock()
	if sa == nil {
		writeAPIError(w, apiNotFound("Not found; Gaia id not found for email "+email))
		return
	}
	if err != nil {
		writeAPIError(w, &apiError{Code: http.StatusInternalServerError, Status: "INTERNAL", Message: err.Error()})
		return
	}
	if kind == "jwk" {
		writeJSONCached(w, map[string]any{"keys": []any{k.jwk()}})
		return
	}
	writeJSONCached(w, map[string]string{k.id: k.certPEM()})
}
