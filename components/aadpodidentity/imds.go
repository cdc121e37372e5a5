package aadpodidentity

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// IMDSAPIVersion is the api-version adal (go-autorest, which NMI and MIC
// use) asks the metadata service's token endpoint for.
const IMDSAPIVersion = "2018-02-01"

// MSIToken is a token as the metadata service answers it and NMI
// re-encodes it (server.go msiResponse): every value a string, the
// refresh token always empty for managed identities.
type MSIToken struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    string `json:"expires_in"`
	ExpiresOn    string `json:"expires_on"`
	NotBefore    string `json:"not_before"`
	Resource     string `json:"resource"`
	Type         string `json:"token_type"`
}

// IMDS gets managed identity tokens from the node's instance metadata
// service, as adal's ServicePrincipalToken from managed identity does.
type IMDS struct {
	// BaseURL is http://169.254.169.254 (or a test server).
	BaseURL string
	Client  *http.Client
}

// TokenURL is adal's request: api-version, client_id when set, resource.
func (m IMDS) TokenURL(clientID, resource string) string {
	v := url.Values{"api-version": {IMDSAPIVersion}, "resource": {resource}}
	if clientID != "" {
		v.Set("client_id", clientID)
	}
	return strings.TrimSuffix(m.BaseURL, "/") + "/metadata/identity/oauth2/token?" + v.Encode()
}

// Token asks for a token of the identity with clientID ("" for the VM's
// only one) for resource. A refusal is adal's error text, as NMI passes it
// on: "adal: Refresh request failed. Status Code = 'N'. Response body:
// BODY Endpoint URL".
func (m IMDS) Token(ctx context.Context, clientID, resource string) (MSIToken, error) {
	u := m.TokenURL(clientID, resource)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return MSIToken{}, err
	}
	req.Header.Set("Metadata", "true")
	c := m.Client
	if c == nil {
		c = &http.Client{Transport: &http.Transport{Proxy: nil}}
	}
	resp, err := c.Do(req)
	if err != nil {
		return MSIToken{}, fmt.Errorf("adal: Failed to execute the refresh request. Error = '%w'", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return MSIToken{}, fmt.Errorf("adal: Failed to read a new service principal token during refresh. Error = '%w'", err)
	}
	if resp.StatusCode != http.StatusOK {
		return MSIToken{}, fmt.Errorf("adal: Refresh request failed. Status Code = '%d'. Response body: %s Endpoint %s", resp.StatusCode, body, u)
	}
	return ParseMSIToken(body)
}

// ParseMSIToken reads the metadata service's token answer; numbers are
// accepted as IMDS's strings or as JSON numbers (adal's json.Number).
func ParseMSIToken(body []byte) (MSIToken, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return MSIToken{}, fmt.Errorf("adal: Failed to unmarshal the service principal token during refresh. Error = '%w' JSON = '%s'", err, body)
	}
	str := func(k string) (string, error) {
		v, ok := raw[k]
		if !ok || string(v) == "null" {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			return s, nil
		}
		var n json.Number
		if err := json.Unmarshal(v, &n); err != nil {
			return "", fmt.Errorf("adal: Failed to unmarshal the service principal token during refresh. Error = '%s: %w' JSON = '%s'", k, err, body)
		}
		return n.String(), nil
	}
	var t MSIToken
	for k, p := range map[string]*string{"access_token": &t.AccessToken, "refresh_token": &t.RefreshToken, "expires_in": &t.ExpiresIn,
		"expires_on": &t.ExpiresOn, "not_before": &t.NotBefore, "resource": &t.Resource, "token_type": &t.Type} {
		v, err := str(k)
		if err != nil {
			return MSIToken{}, err
		}
		*p = v
	}
	if t.AccessToken == "" {
		return MSIToken{}, fmt.Errorf("adal: Failed to unmarshal the service principal token during refresh. Error = 'no access_token' JSON = '%s'", body)
	}
	return t, nil
}
