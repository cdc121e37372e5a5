package gkemetadata

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Google token exchange constants (RFC 8693) and scopes.
const (
	grantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
	tokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
	scopeCloudPlatform     = "https://www.googleapis.com/auth/cloud-platform"
	scopeUserinfoEmail     = "https://www.googleapis.com/auth/userinfo.email"
	// ksaTokenSeconds is the lifetime asked of the TokenRequest API.
	ksaTokenSeconds = 3600
	maxResponse     = 1 << 20
)

// defaultScopes are what the metadata server reports and mints by default.
var defaultScopes = []string{scopeCloudPlatform, scopeUserinfoEmail}

// ksaToken asks the API server for a token of the caller's KSA with the
// workload pool as audience, bound to the pod (TokenRequest).
func (h *Handler) ksaToken(ctx context.Context, c *caller) (string, error) {
	exp := int64(ksaTokenSeconds)
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences:         []string{h.opts.WorkloadPool()},
		ExpirationSeconds: &exp,
	}}
	if c.Pod != nil { // the node's own KSA (Options.NodeKSA) has no pod to bind to
		tr.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: c.Pod.Name, UID: c.Pod.UID}
	}
	ns, name, _ := strings.Cut(c.KSA, "/")
	res, err := h.opts.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, tr, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token request for %s: %w", c.KSA, err)
	}
	if res.Status.Token == "" {
		return "", fmt.Errorf("token request for %s: empty token", c.KSA)
	}
	return res.Status.Token, nil
}

// stsAudience is what GKE's metadata server sends to STS.
func (h *Handler) stsAudience() string {
	return "identitynamespace:" + h.opts.WorkloadPool() + ":" + h.opts.IssuerURL
}

// googleError is a non-2xx answer of a Google API: its HTTP status and
// message (google.rpc.Status message or OAuth error_description).
type googleError struct {
	Service string
	Status  string // e.g. "403 Forbidden"
	Code    int
	Message string
}

func (e *googleError) Error() string {
	return fmt.Sprintf("%s returned %s: %s", e.Service, e.Status, e.Message)
}

// federatedToken exchanges the caller's KSA token at Google STS.
func (h *Handler) federatedToken(ctx context.Context, c *caller, scopes []string) (string, time.Time, error) {
	ksa, err := h.ksaToken(ctx, c)
	if err != nil {
		return "", time.Time{}, err
	}
	form := url.Values{
		"grant_type":           {grantTypeTokenExchange},
		"audience":             {h.stsAudience()},
		"scope":                {strings.Join(scopes, " ")},
		"requested_token_type": {tokenTypeAccessToken},
		"subject_token_type":   {tokenTypeJWT},
		"subject_token":        {ksa},
	}
	var res struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	now := h.opts.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.opts.STSEndpoint+"/v1/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sts: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := h.do(req, "STS", &res); err != nil {
		return "", time.Time{}, err
	}
	if res.AccessToken == "" || res.ExpiresIn <= 0 {
		return "", time.Time{}, fmt.Errorf("sts: incomplete token response")
	}
	return res.AccessToken, now.Add(time.Duration(res.ExpiresIn) * time.Second), nil
}

// generateAccessToken calls IAM Credentials for gsa with the federated token.
func (h *Handler) generateAccessToken(ctx context.Context, federated, gsa string, scopes []string) (string, time.Time, error) {
	var res struct {
		AccessToken string    `json:"accessToken"`
		ExpireTime  time.Time `json:"expireTime"`
	}
	body := map[string]any{"scope": scopes, "lifetime": "3600s"}
	if err := h.iamCredentials(ctx, federated, gsa, "generateAccessToken", body, &res); err != nil {
		return "", time.Time{}, err
	}
	if res.AccessToken == "" {
		return "", time.Time{}, fmt.Errorf("generateAccessToken: empty token")
	}
	return res.AccessToken, res.ExpireTime, nil
}

// generateIDToken calls IAM Credentials generateIdToken for gsa.
func (h *Handler) generateIDToken(ctx context.Context, federated, gsa, audience string, includeEmail bool) (string, error) {
	var res struct {
		Token string `json:"token"`
	}
	body := map[string]any{"audience": audience, "includeEmail": includeEmail}
	if err := h.iamCredentials(ctx, federated, gsa, "generateIdToken", body, &res); err != nil {
		return "", err
	}
	if res.Token == "" {
		return "", fmt.Errorf("generateIdToken: empty token")
	}
	return res.Token, nil
}

func (h *Handler) iamCredentials(ctx context.Context, bearer, gsa, verb string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	u := h.opts.IAMCredentialsEndpoint + "/v1/projects/-/serviceAccounts/" + url.PathEscape(gsa) + ":" + verb
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	return h.do(req, "IAM", out)
}

// do sends req and decodes a 2xx JSON answer into out; other statuses
// become *googleError.
func (h *Handler) do(req *http.Request, service string, out any) error {
	resp, err := h.opts.GoogleHTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", service, req.URL.Host, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", service, req.URL.Host, err)
	}
	if resp.StatusCode/100 != 2 {
		return &googleError{Service: service, Status: resp.Status, Code: resp.StatusCode, Message: googleMessage(raw)}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", service, req.URL.Host, err)
	}
	return nil
}

// googleMessage extracts the message of a Google API or OAuth error body.
func googleMessage(raw []byte) string {
	var e struct {
		Error any    `json:"error"`
		Desc  string `json:"error_description"`
	}
	if json.Unmarshal(raw, &e) == nil {
		switch v := e.Error.(type) {
		case map[string]any:
			if m, ok := v["message"].(string); ok {
				return m
			}
		case string:
			if e.Desc != "" {
				return v + ": " + e.Desc
			}
			return v
		}
	}
	return strings.TrimSpace(string(raw))
}
