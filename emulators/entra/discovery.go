package entra

import (
	"net/http"
	"net/url"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// publicCloudAliases is the metadata entry Entra returns for the public cloud.
var publicCloudAliases = instanceMetadata{
	PreferredNetwork: "login.microsoftonline.com",
	PreferredCache:   "login.windows.net",
	Aliases:          []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"},
}

type instanceMetadata struct {
	PreferredNetwork string   `json:"preferred_network"`
	PreferredCache   string   `json:"preferred_cache"`
	Aliases          []string `json:"aliases"`
}

type instanceDiscovery struct {
	TenantDiscoveryEndpoint string             `json:"tenant_discovery_endpoint"`
	APIVersion              string             `json:"api-version"`
	Metadata                []instanceMetadata `json:"metadata"`
}

// serveInstanceDiscovery answers MSAL's instance discovery
// (GET /common/discovery/instance?api-version=1.1&authorization_endpoint=...):
// the tenant discovery endpoint on the authority's host and the host
// aliases. Hosts that are neither Entra's nor loopback are refused with
// invalid_instance, as Entra refuses hosts it does not know.
func (h *Handler) serveInstanceDiscovery(w http.ResponseWriter, r *http.Request, ids requestIDs) {
	authz := r.URL.Query().Get("authorization_endpoint")
	host, tenant := r.Host, "common"
	if authz != "" {
		u, err := url.Parse(authz)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			writeAADError(w, errInvalidInstance(), ids, h.now())
			return
		}
		host = u.Host
		if p := strings.Split(strings.Trim(u.Path, "/"), "/"); p[0] != "" {
			tenant = p[0]
		}
	}
	if !servedHost(host) {
		writeAADError(w, errInvalidInstance(), ids, h.now())
		return
	}
	meta := []instanceMetadata{publicCloudAliases}
	if !isEntraHost(host) {
		meta = append(meta, instanceMetadata{PreferredNetwork: host, PreferredCache: host, Aliases: []string{host}})
	}
	writeJSON(w, http.StatusOK, ids, instanceDiscovery{
		TenantDiscoveryEndpoint: "https://" + host + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		APIVersion:              "1.1",
		Metadata:                meta,
	})
}

func isEntraHost(host string) bool {
	host = strings.ToLower(host)
	for _, h := range entraHosts {
		if host == h {
			return true
		}
	}
	return false
}

// openIDConfig is Entra's tenant discovery document (the fields MSAL and
// OIDC libraries read).
type openIDConfig struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint,omitempty"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
}

// serveOpenIDConfig answers tenant discovery with endpoints on the host the
// client used, so a client pointed at the emulator stays on it.
func (h *Handler) serveOpenIDConfig(w http.ResponseWriter, r *http.Request, ids requestIDs, name string, v2 bool) {
	t, ok := h.lookupTenant(name)
	if !ok {
		writeAADError(w, h.unknownTenantError(name), ids, h.now())
		return
	}
	base := "https://" + strings.ToLower(r.Host) + "/" + t.ID
	doc := openIDConfig{
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            []string{"code", "id_token", "code id_token", "id_token token"},
		ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
		CloudInstanceName:                 "microsoftonline.com",
		CloudGraphHostName:                "graph.windows.net",
		MSGraphHost:                       "graph.microsoft.com",
	}
	if v2 {
		doc.TokenEndpoint = base + "/oauth2/v2.0/token"
		doc.JWKSURI = base + "/discovery/v2.0/keys"
		doc.Issuer = issuerV2(t.ID)
		doc.AuthorizationEndpoint = base + "/oauth2/v2.0/authorize"
		doc.DeviceAuthorizationEndpoint = base + "/oauth2/v2.0/devicecode"
		doc.EndSessionEndpoint = base + "/oauth2/v2.0/logout"
	} else {
		doc.TokenEndpoint = base + "/oauth2/token"
		doc.JWKSURI = base + "/discovery/keys"
		doc.Issuer = issuerV1(t.ID)
		doc.AuthorizationEndpoint = base + "/oauth2/authorize"
		doc.EndSessionEndpoint = base + "/oauth2/logout"
	}
	writeJSON(w, http.StatusOK, ids, doc)
}

// unknownTenantError is AADSTS90002, or AADSTS50059 for the multi-tenant
// names that identify no tenant.
func (h *Handler) unknownTenantError(name string) *aadError {
	if reserved(name) {
		return errNoTenantInfo()
	}
	return errTenantNotFound(name)
}

// serveKeys answers the tenant's JWKS.
func (h *Handler) serveKeys(w http.ResponseWriter, ids requestIDs, name string) {
	t, ok := h.lookupTenant(name)
	if !ok {
		writeAADError(w, h.unknownTenantError(name), ids, h.now())
		return
	}
	ks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{t.key.jwk()}}
	writeJSON(w, http.StatusOK, ids, ks)
}

func issuerV1(tid string) string { return "https://sts.windows.net/" + tid + "/" }
func issuerV2(tid string) string { return "https://login.microsoftonline.com/" + tid + "/v2.0" }
