package entra

import (
	"net/url"
	"strings"
)

// Form values of the client credentials grant with a client assertion.
const (
	grantClientCredentials = "client_credentials"
	assertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	maxFormBytes           = 64 << 10
)

// tokenRequest is a parsed token request.
type tokenRequest struct {
	GrantType     string
	ClientID      string
	Assertion     string
	AssertionType string
	ClientSecret  string
	// Resource is the resource the token is for: the scope without
	// "/.default" (v2) or the resource parameter (v1).
	Resource string
}

// oidcScopes are the scopes MSAL appends to every request; Entra ignores
// them for app-only tokens.
var oidcScopes = map[string]bool{"openid": true, "profile": true, "offline_access": true, "email": true}

// parseTokenRequest checks a token request body as Entra does, in its
// order: grant type, client ID, scope (v2) or resource (v1), then the
// client credential. It never panics on any input.
func parseTokenRequest(form url.Values, v2 bool) (*tokenRequest, *aadError) {
	req := &tokenRequest{
		GrantType:     form.Get("grant_type"),
		ClientID:      form.Get("client_id"),
		Assertion:     form.Get("client_assertion"),
		AssertionType: form.Get("client_assertion_type"),
		ClientSecret:  form.Get("client_secret"),
	}
	if req.GrantType == "" {
		return nil, errMissingParam("grant_type")
	}
	if req.GrantType != grantClientCredentials {
		return nil, errGrantType(req.GrantType)
	}
	if req.ClientID == "" {
		return nil, errMissingParam("client_id")
	}
	if v2 {
		scope := form.Get("scope")
		if strings.TrimSpace(scope) == "" {
			return nil, errMissingParam("scope")
		}
		var resources []string
		for _, s := range strings.Fields(scope) {
			if oidcScopes[s] {
				continue
			}
			resources = append(resources, s)
		}
		if len(resources) == 0 {
			return nil, errScopeInvalid(scope)
		}
		if len(resources) > 1 {
			return nil, errScopeInvalid(scope)
		}
		s := resources[0]
		res, ok := strings.CutSuffix(s, "/.default")
		if !ok {
			return nil, errScopeNotDefault(s)
		}
		if res == "" {
			return nil, errScopeInvalid(scope)
		}
		req.Resource = res
	} else {
		req.Resource = form.Get("resource")
		if req.Resource == "" {
			return nil, errMissingParam("resource")
		}
	}
	switch {
	case req.Assertion == "" && req.ClientSecret == "":
		return nil, errNoCredential()
	case req.Assertion != "":
		if req.AssertionType == "" {
			return nil, errMissingParam("client_assertion_type")
		}
		if req.AssertionType != assertionTypeJWTBearer {
			return nil, errAssertionType(req.AssertionType)
		}
	}
	return req, nil
}
