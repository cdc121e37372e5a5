package gcpiam

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds request bodies (Google's front end allows far more; the
// lab's requests are tiny).
const maxBody = 1 << 20

// credentialsVerbs maps IAM Credentials methods to the permission each
// needs on the target service account.
var credentialsVerbs = map[string]struct{ permission, method string }{
	"generateAccessToken": {"iam.serviceAccounts.getAccessToken", "GenerateAccessToken"},
	"generateIdToken":     {"iam.serviceAccounts.getOpenIdToken", "GenerateIdToken"},
	"signJwt":             {"iam.serviceAccounts.signJwt", "SignJwt"},
	"signBlob":            {"iam.serviceAccounts.signBlob", "SignBlob"},
}

var credentialsPathRe = regexp.MustCompile(`^/v1/(projects/([^/]+)/serviceAccounts/([^/:]+)):([A-Za-z]+)$`)

// credentialsRequest is the union of the IAM Credentials request bodies.
type credentialsRequest struct {
	Delegates                  []string `json:"delegates"`
	Scope                      []string `json:"scope"`
	Lifetime                   string   `json:"lifetime"`
	Audience                   string   `json:"audience"`
	IncludeEmail               bool     `json:"includeEmail"`
	OrganizationNumberIncluded bool     `json:"organizationNumberIncluded"`
	Payload                    string   `json:"payload"`
}

// credentialsCall is a parsed IAM Credentials request.
type credentialsCall struct {
	Verb     string
	Target   string // email or unique ID as given
	Project  string // "-" or a project ID
	Body     credentialsRequest
	Lifetime time.Duration
}

// allowed fields per verb, as the proto messages define them.
var credentialsFields = map[string][]string{
	"generateAccessToken": {"delegates", "scope", "lifetime"},
	"generateIdToken":     {"delegates", "audience", "includeEmail", "organizationNumberIncluded"},
	"signJwt":             {"delegates", "payload"},
	"signBlob":            {"delegates", "payload"},
}

// ParseCredentialsRequest parses an IAM Credentials call: method, path
// /v1/projects/-/serviceAccounts/ID:VERB and the JSON body, with Google's
// INVALID_ARGUMENT messages for what it refuses.
func ParseCredentialsRequest(method, path string, body []byte) (*credentialsCall, error) {
	m := credentialsPathRe.FindStringSubmatch(path)
	if m == nil {
		return nil, apiNotFound(fmt.Sprintf("The requested URL %s was not found on this server.", path))
	}
	verb := m[4]
	if _, ok := credentialsVerbs[verb]; !ok {
		return nil, apiNotFound(fmt.Sprintf("The requested URL %s was not found on this server.", path))
	}
	if method != http.MethodPost {
		return nil, &apiError{Code: http.StatusMethodNotAllowed, Status: "INVALID_ARGUMENT", Message: "Method " + method + " is not allowed; use POST."}
	}
	c := &credentialsCall{Verb: verb, Project: m[2], Target: m[3]}
	if len(bytes.TrimSpace(body)) > 0 {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, apiInvalid("Invalid JSON payload received. " + jsonProblem(err))
		}
		for k := range raw {
			if !slices.Contains(credentialsFields[verb], k) {
				return nil, apiInvalid(fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot find field.", k))
			}
		}
		if err := json.Unmarshal(body, &c.Body); err != nil {
			return nil, apiInvalid("Invalid JSON payload received. " + jsonProblem(err))
		}
	}
	for _, d := range c.Body.Delegates {
		dm := saResourceRe.FindStringSubmatch(d)
		if dm == nil || dm[1] != "-" {
			return nil, apiInvalid(fmt.Sprintf("Invalid form of delegate %q; expected projects/-/serviceAccounts/{ACCOUNT_EMAIL_OR_UNIQUEID}.", d))
		}
	}
	switch verb {
	case "generateAccessToken":
		if len(c.Body.Scope) == 0 {
			return nil, apiInvalid("Scope required.")
		}
		c.Lifetime = DefaultTokenLifetime
		if c.Body.Lifetime != "" {
			d, err := parseDuration(c.Body.Lifetime)
			if err != nil {
				return nil, apiInvalid(fmt.Sprintf("Invalid value at 'lifetime' (type.googleapis.com/google.protobuf.Duration), Field 'lifetime', Illegal duration format; duration must end with 's': %q", c.Body.Lifetime))
			}
			if d <= 0 || d > DefaultTokenLifetime {
				return nil, apiInvalid(fmt.Sprintf("The lifetime of the requested token (%s) is not between 1s and 3600s. See https://cloud.google.com/iam/help/credentials/lifetime for lifetimes longer than an hour.", c.Body.Lifetime))
			}
			c.Lifetime = d
		}
	case "generateIdToken":
		if c.Body.Audience == "" {
			return nil, apiInvalid("Audience required.")
		}
	case "signJwt":
		var claims map[string]any
		if c.Body.Payload == "" || json.Unmarshal([]byte(c.Body.Payload), &claims) != nil {
			return nil, apiInvalid("Payload must be a JSON object.")
		}
	case "signBlob":
		if _, err := base64.StdEncoding.DecodeString(c.Body.Payload); err != nil || c.Body.Payload == "" {
			return nil, apiInvalid("Invalid value at 'payload' (TYPE_BYTES), Base64 decoding failed.")
		}
	}
	return c, nil
}

// parseDuration reads a protobuf Duration in JSON ("3600s", "1.5s").
func parseDuration(s string) (time.Duration, error) {
	if !strings.HasSuffix(s, "s") {
		return 0, errors.New("no s suffix")
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "s"), 64)
	if err != nil || f != f || f > 1e10 || f < -1e10 {
		return 0, fmt.Errorf("duration %q", s)
	}
	return time.Duration(f * float64(time.Second)), nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("Syntax error at offset %d.", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("Invalid value at '%s' (%s).", te.Field, te.Value)
	}
	return err.Error()
}

// authenticate resolves the Bearer token of r.
func (h *Handler) authenticate(r *http.Request, service, method string) (*TokenInfo, *apiError) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return nil, apiUnauthenticated(true, service, method)
	}
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, apiUnauthenticated(false, service, method)
	}
	info, err := h.VerifyAccessToken(strings.TrimSpace(tok))
	if err != nil {
		return nil, apiUnauthenticated(false, service, method)
	}
	return info, nil
}

func hasAnyScope(have []string, want ...string) bool {
	for _, s := range have {
		if slices.Contains(want, s) {
			return true
		}
	}
	return false
}

func (h *Handler) serveIAMCredentials(w http.ResponseWriter, r *http.Request, reqID string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeAPIError(w, apiInvalid("Request body too large or unreadable."))
		return
	}
	call, err := ParseCredentialsRequest(r.Method, r.URL.Path, body)
	var ae *apiError
	if errors.As(err, &ae) && ae.Code == http.StatusNotFound {
		writeAPIError(w, ae)
		return
	}
	method := "google.iam.credentials.v1.IAMCredentials."
	if call != nil {
		method += credentialsVerbs[call.Verb].method
	}
	// Google authenticates before it validates the body.
	caller, aerr := h.authenticate(r, HostIAMCredentials, method)
	if aerr != nil {
		h.log.Info("unauthenticated request", "request_id", reqID, "path", r.URL.Path)
		writeAPIError(w, aerr)
		return
	}
	if err != nil {
		writeAPIError(w, err.(*apiError))
		return
	}
	if !hasAnyScope(caller.Scopes, ScopeCloudPlatform, ScopeIAM) {
		writeAPIError(w, &apiError{Code: http.StatusForbidden, Status: "PERMISSION_DENIED", Message: msgInsufficientScopes,
			Details: []any{errorInfo("ACCESS_TOKEN_SCOPE_INSUFFICIENT", "googleapis.com", map[string]string{"service": HostIAMCredentials, "method": method})}})
		return
	}
	res, aerr := h.credentials(caller, call, reqID)
	if aerr != nil {
		writeAPIError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// credentials authorizes the delegation chain and performs the call.
func (h *Handler) credentials(caller *TokenInfo, call *credentialsCall, reqID string) (any, *apiError) {
	perm := credentialsVerbs[call.Verb].permission
	h.mu.Lock()
	target := h.accountLocked(call.Target)
	if target == nil {
		h.mu.Unlock()
		h.log.Info("service account not found", "request_id", reqID, "principal", caller.Member(), "resource", call.Target)
		what := "email"
		if !strings.Contains(call.Target, "@") {
			what = "id"
		}
		return nil, apiNotFound(fmt.Sprintf("Not found; Gaia id not found for %s %s", what, call.Target))
	}
	members := caller.Members
	for _, d := range call.Body.Delegates {
		dsa := h.accountLocked(strings.TrimPrefix(d, "projects/-/serviceAccounts/"))
		if dsa == nil {
			h.mu.Unlock()
			return nil, apiNotFound("Not found; Gaia id not found for delegate " + d)
		}
		res := "projects/" + dsa.Project + "/serviceAccounts/" + dsa.Email
		if !h.checkLocked(res, members, "iam.serviceAccounts.implicitDelegation") {
			h.mu.Unlock()
			return nil, apiPermissionDenied("iam.serviceAccounts.implicitDelegation", res)
		}
		members = []string{"serviceAccount:" + dsa.Email}
	}
	res := "projects/" + target.Project + "/serviceAccounts/" + target.Email
	ok := h.checkLocked(res, members, perm)
	sa := *target
	h.mu.Unlock()
	if !ok {
		return nil, apiPermissionDenied(perm, res)
	}
	ctx := contextBackground()
	switch call.Verb {
	case "generateAccessToken":
		tok, exp, err := h.MintAccessToken(ctx, sa.Email, call.Body.Scope, call.Lifetime)
		if err != nil {
			return nil, &apiError{Code: http.StatusInternalServerError, Status: "INTERNAL", Message: err.Error()}
		}
		return map[string]string{"accessToken": tok, "expireTime": exp.UTC().Format(time.RFC3339)}, nil
	case "generateIdToken":
		tok, err := h.MintIDToken(ctx, sa.Email, call.Body.Audience, call.Body.IncludeEmail)
		if err != nil {
			return nil, &apiError{Code: http.StatusInternalServerError, Status: "INTERNAL", Message: err.Error()}
		}
		return map[string]string{"token": tok}, nil
	case "signJwt":
		h.mu.Lock()
		k, err := h.saKeyLocked(sa.Email)
		h.mu.Unlock()
		if err != nil {
			return nil, &apiError{Code: http.StatusInternalServerError, Status: "INTERNAL", Message: err.Error()}
		}
		hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": k.id, "typ": "JWT"})
		input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString([]byte(call.Body.Payload))
		sig, err := k.signRS256([]byte(input))
		if err != nil {
			return nil, &apiError{Code: http.StatusInternalServerError, Status: "INTERNAL", Message: err.Error()}
		}
		return map[string]string{"keyId": k.id, "signedJwt": input + "." + base64.RawURLEncoding.EncodeToString(sig)}, nil
	default: // signBlob
		blob, _ := base64.StdEncoding.DecodeString(call.Body.Payload)
		h.mu.Lock()
		k, err := h.saKeyLocked(sa.Email)
		h.mu.Unlock()
		if err != nil {
			return nil, &apiError{Code: http.StatusInternalServerError, Status: "INTERNAL", Message: err.Error()}
		}
		sig, err := k.signRS256(blob)
		if err != nil {
			return nil, &apiError{Code: http.StatusInternalServerError, Status: "INTERNAL", Message: err.Error()}
		}
		return map[string]string{"keyId": k.id, "signedBlob": base64.StdEncoding.EncodeToString(sig)}, nil
	}
}
