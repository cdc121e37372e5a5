package gcpiam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/idlab/idlab/internal/jwtverify"
)

// OAuth 2.0 token exchange URNs (RFC 8693) Google's STS speaks.
const (
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeIDToken       = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
)

// Google STS messages. msgBadAudience, msgUnknownPool and msgIssuerConnect
// are Google's documented texts; the others follow the same style.
const (
	msgBadAudience   = `Invalid value for "audience". This value should be the full resource name of the Identity Provider. See https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token for the list of possible formats.`
	msgUnknownPool   = `The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist.`
	msgIssuerConnect = "Error connecting to the given credential's issuer."
)

// stsRequest is a parsed token exchange request.
type stsRequest struct {
	GrantType          string
	Audience           string
	Scope              []string
	RequestedTokenType string
	SubjectToken       string
	SubjectTokenType   string
	Options            string
}

var stsFieldNames = map[string]string{
	"grant_type": "grant_type", "grantType": "grant_type",
	"audience":             "audience",
	"scope":                "scope",
	"requested_token_type": "requested_token_type", "requestedTokenType": "requested_token_type",
	"subject_token": "subject_token", "subjectToken": "subject_token",
	"subject_token_type": "subject_token_type", "subjectTokenType": "subject_token_type",
	"options": "options",
}

// ParseSTSRequest reads a token exchange request: a form
// (application/x-www-form-urlencoded, what the Google auth libraries send)
// or JSON with snake_case or camelCase names (the REST API's), and
// validates it as Google's STS does before looking at the token.
func ParseSTSRequest(contentType string, body []byte) (*stsRequest, error) {
	vals := url.Values{}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/json" {
		var raw map[string]any
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, &stsError{"invalid_request", "Invalid JSON payload received."}
		}
		for k, v := range raw {
			name, ok := stsFieldNames[k]
			if !ok {
				return nil, &stsError{"invalid_request", fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot find field.", k)}
			}
			s, ok := v.(string)
			if !ok {
				return nil, &stsError{"invalid_request", fmt.Sprintf("Invalid value for %q: want a string.", k)}
			}
			vals.Set(name, s)
		}
	} else {
		var err error
		if vals, err = url.ParseQuery(string(body)); err != nil {
			return nil, &stsError{"invalid_request", "The request body is not a valid form."}
		}
	}
	req := &stsRequest{
		GrantType:          vals.Get("grant_type"),
		Audience:           vals.Get("audience"),
		RequestedTokenType: vals.Get("requested_token_type"),
		SubjectToken:       vals.Get("subject_token"),
		SubjectTokenType:   vals.Get("subject_token_type"),
		Options:            vals.Get("options"),
		Scope:              strings.Fields(vals.Get("scope")),
	}
	switch {
	case req.GrantType == "":
		return nil, &stsError{"invalid_request", `Missing required parameter: "grant_type".`}
	case req.GrantType != GrantTypeTokenExchange:
		return nil, &stsError{"unsupported_grant_type", fmt.Sprintf("Unsupported grant type %q; only %s is supported.", req.GrantType, GrantTypeTokenExchange)}
	case req.SubjectTokenType == "":
		return nil, &stsError{"invalid_request", `Missing required parameter: "subject_token_type".`}
	case req.SubjectTokenType != TokenTypeJWT && req.SubjectTokenType != TokenTypeIDToken:
		return nil, &stsError{"invalid_request", fmt.Sprintf(`Invalid value for "subject_token_type": %q is not supported (the lab supports %s and %s).`, req.SubjectTokenType, TokenTypeJWT, TokenTypeIDToken)}
	case req.RequestedTokenType != "" && req.RequestedTokenType != TokenTypeAccessToken:
		return nil, &stsError{"invalid_request", fmt.Sprintf(`Invalid value for "requested_token_type": must be %s.`, TokenTypeAccessToken)}
	case req.SubjectToken == "":
		return nil, &stsError{"invalid_request", `Missing required parameter: "subject_token".`}
	case req.Audience == "":
		return nil, &stsError{"invalid_request", msgBadAudience}
	}
	if req.Options != "" {
		var o map[string]any
		if json.Unmarshal([]byte(req.Options), &o) != nil {
			return nil, &stsError{"invalid_request", `Invalid value for "options": must be a JSON object.`}
		}
	}
	if _, err := parseAudience(req.Audience); err != nil {
		return nil, err
	}
	return req, nil
}

// audienceRef is what an STS audience names.
type audienceRef struct {
	ProjectNumber string // full resource name form
	Pool          string
	Provider      string
	Issuer        string // identitynamespace form
}

var providerAudRe = regexp.MustCompile(`^//iam\.googleapis\.com/projects/([0-9]+)/locations/global/workloadIdentityPools/([^/]+)/providers/([^/]+)$`)

// parseAudience accepts the three forms: the provider's full resource name,
// identitynamespace:POOL:ISSUER (what GKE's metadata server sends), and a
// bare GKE workload pool PROJECT.svc.id.goog.
func parseAudience(aud string) (*audienceRef, error) {
	if m := providerAudRe.FindStringSubmatch(aud); m != nil {
		return &audienceRef{ProjectNumber: m[1], Pool: m[2], Provider: m[3]}, nil
	}
	if rest, ok := strings.CutPrefix(aud, "identitynamespace:"); ok {
		pool, issuer, ok := strings.Cut(rest, ":")
		if ok && pool != "" && strings.HasPrefix(issuer, "https://") {
			return &audienceRef{Pool: pool, Issuer: issuer}, nil
		}
	}
	if strings.HasSuffix(aud, ".svc.id.goog") && poolIDRe.MatchString(aud) {
		return &audienceRef{Pool: aud}, nil
	}
	return nil, &stsError{"invalid_request", msgBadAudience}
}

func (h *Handler) serveSTS(w http.ResponseWriter, r *http.Request, reqID string) {
	if r.Method != http.MethodPost {
		writeSTSError(w, &stsError{"invalid_request", "The token endpoint only accepts POST."})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeSTSError(w, &stsError{"invalid_request", "Request body too large or unreadable."})
		return
	}
	req, err := ParseSTSRequest(r.Header.Get("Content-Type"), body)
	if err != nil {
		writeSTSError(w, err.(*stsError))
		return
	}
	res, serr := h.exchange(r.Context(), req, reqID)
	if serr != nil {
		writeSTSError(w, serr)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// STSResponse is Google STS's token exchange answer.
type STSResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
}

// Exchange performs a token exchange as POST sts.googleapis.com/v1/token
// would, for callers in the same process (the GKE metadata emulator).
func (h *Handler) Exchange(ctx context.Context, audience, subjectToken string, scopes []string) (*STSResponse, error) {
	req := &stsRequest{GrantType: GrantTypeTokenExchange, Audience: audience, SubjectToken: subjectToken,
		SubjectTokenType: TokenTypeJWT, Scope: scopes}
	if _, err := parseAudience(audience); err != nil {
		return nil, err
	}
	res, serr := h.exchange(ctx, req, newRequestID())
	if serr != nil {
		return nil, serr
	}
	return res, nil
}

// exchange verifies the subject token against the pool and mints a
// federated token.
func (h *Handler) exchange(ctx context.Context, req *stsRequest, reqID string) (*STSResponse, *stsError) {
	ref, err := parseAudience(req.Audience)
	if err != nil {
		return nil, err.(*stsError)
	}
	tok, perr := jwtverify.ParseUnverified(req.SubjectToken)
	deny := func(member string, e *stsError) (*STSResponse, *stsError) {
		h.mu.Lock()
		h.recordLocked(Decision{Time: h.now(), Member: member, Resource: req.Audience, Permission: "sts.googleapis.com/token",
			Reason: e.Code + ": " + e.Description})
		h.mu.Unlock()
		h.log.Info("token exchange refused", "request_id", reqID, "audience", req.Audience, "error", e.Code, "reason", e.Description)
		return nil, e
	}
	if perr != nil {
		return deny("unknown", &stsError{"invalid_grant", "Unable to parse the ID Token."})
	}
	external := "external:" + tok.Claims.Issuer + "#" + tok.Claims.Subject

	// Find the pool provider(s) the audience names.
	h.mu.RLock()
	var candidates []*Pool
	for _, p := range h.st.Pools {
		if p.ID != ref.Pool {
			continue
		}
		if ref.ProjectNumber != "" && (p.ProjectNumber != ref.ProjectNumber || (p.Provider != "" && p.Provider != ref.Provider)) {
			continue
		}
		if ref.ProjectNumber == "" && !p.IsGKE() {
			continue
		}
		candidates = append(candidates, p)
	}
	h.mu.RUnlock()
	if len(candidates) == 0 {
		return deny(external, &stsError{"invalid_target", msgUnknownPool})
	}
	var pool *Pool
	for _, p := range candidates {
		if p.Issuer == tok.Claims.Issuer && (ref.Issuer == "" || ref.Issuer == p.Issuer) {
			pool = p
			break
		}
	}
	if pool == nil {
		want := candidates[0].Issuer
		if ref.Issuer != "" {
			want = ref.Issuer
		}
		return deny(external, &stsError{"invalid_grant", fmt.Sprintf("The issuer in ID Token %s does not match the expected ISSUER %s.", tok.Claims.Issuer, want)})
	}
	allowed := pool.allowedAudiences(ref.Provider)
	matched := false
	for _, a := range tok.Claims.Audience {
		if slices.Contains(allowed, a) {
			matched = true
		}
	}
	if !matched {
		return deny(external, &stsError{"invalid_grant", fmt.Sprintf("The audience in ID Token [%s] does not match the expected audience %s.",
			strings.Join(tok.Claims.Audience, ", "), strings.Join(allowed, ", "))})
	}
	v := jwtverify.Verifier{Keys: h.keys, Now: h.now, Algorithms: jwtverify.SupportedAlgorithms}
	if err := v.VerifyToken(ctx, tok); err != nil {
		return deny(external, stsVerifyError(err, tok))
	}
	if tok.Claims.Subject == "" {
		return deny(external, &stsError{"invalid_grant", "The ID Token has no sub claim."})
	}
	scopes := req.Scope
	if len(scopes) == 0 {
		scopes = []string{ScopeCloudPlatform}
	}
	members := pool.members(tok.Claims.Subject)
	h.mu.Lock()
	at, exp, merr := h.mintFederatedLocked(tok.Claims.Subject, members, scopes, DefaultTokenLifetime)
	h.recordLocked(Decision{Time: h.now(), Member: members[0], Resource: req.Audience, Permission: "sts.googleapis.com/token", Allowed: true,
		Reason: "subject token from " + pool.Issuer + " accepted by pool " + pool.PoolName()})
	h.mu.Unlock()
	if merr != nil {
		return nil, &stsError{"server_error", merr.Error()}
	}
	return &STSResponse{AccessToken: at, IssuedTokenType: TokenTypeAccessToken, TokenType: "Bearer",
		ExpiresIn: int64(exp.Sub(h.now()) / time.Second)}, nil
}

// stsVerifyError maps a verification failure to Google STS's error.
func stsVerifyError(err error, tok *jwtverify.Token) *stsError {
	var e *jwtverify.Error
	if !errors.As(err, &e) {
		return &stsError{"invalid_grant", msgIssuerConnect}
	}
	iat := int64(0)
	if tok.Claims.IssuedAt != nil {
		iat = tok.Claims.IssuedAt.Unix()
	}
	switch e.Code {
	case jwtverify.CodeKeyFetch:
		return &stsError{"invalid_grant", msgIssuerConnect}
	case jwtverify.CodeExpired:
		return &stsError{"invalid_grant", fmt.Sprintf("ID Token issued at %d is stale to sign-in.", iat)}
	case jwtverify.CodeNotYetValid, jwtverify.CodeIssuedInFuture:
		return &stsError{"invalid_grant", fmt.Sprintf("ID Token issued at %d is not yet valid.", iat)}
	case jwtverify.CodeMissingClaim:
		return &stsError{"invalid_grant", "The ID Token is missing a required claim: " + e.Msg + "."}
	}
	return &stsError{"invalid_grant", "Invalid JWT signature."}
}
