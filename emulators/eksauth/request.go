package eksauth

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Request is a parsed AssumeRoleForPodIdentity call.
type Request struct {
	ClusterName string
	Token       string
}

// tokenRe is the JwtToken pattern of the service model.
var tokenRe = regexp.MustCompile(`^[A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+$`)

const (
	pathPrefix = "/clusters/"
	pathSuffix = "/assume-role-for-pod-identity"
)

// ParseRequest checks the method, the escaped path and the JSON body
// against the service model and returns the call, or an *APIError:
// unknown route -> 404 UnknownOperationException as REST-JSON services
// answer, bad cluster name or token -> InvalidParameterException, body that
// is not a JSON object -> InvalidRequestException.
func ParseRequest(method, escapedPath string, body []byte) (Request, error) {
	if !strings.HasPrefix(escapedPath, pathPrefix) || !strings.HasSuffix(escapedPath, pathSuffix) ||
		len(escapedPath) < len(pathPrefix)+len(pathSuffix) {
		return Request{}, &APIError{Status: http.StatusNotFound, Code: "UnknownOperationException", Message: "UnknownError"}
	}
	if method != http.MethodPost {
		return Request{}, &APIError{Status: http.StatusNotFound, Code: "UnknownOperationException", Message: "UnknownError"}
	}
	raw := escapedPath[len(pathPrefix) : len(escapedPath)-len(pathSuffix)]
	name, err := url.PathUnescape(raw)
	if err != nil || strings.Contains(name, "/") {
		return Request{}, apiErr(CodeInvalidParameter, "1 validation error detected: Value '%s' at 'clusterName' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9A-Za-z][A-Za-z0-9\\-_]*", raw)
	}
	var msgs []string
	switch {
	case len(name) < 1 || len(name) > 100:
		msgs = append(msgs, "Value '"+name+"' at 'clusterName' failed to satisfy constraint: Member must have length between 1 and 100")
	case !clusterNameRe.MatchString(name):
		msgs = append(msgs, "Value '"+name+"' at 'clusterName' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9A-Za-z][A-Za-z0-9\\-_]*")
	}
	var in struct {
		Token *string `json:"token"`
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		trimmed = []byte("{}")
	}
	if trimmed[0] != '{' || json.Unmarshal(trimmed, &in) != nil {
		return Request{}, apiErr(CodeInvalidRequest, "The request body is not a valid JSON object.")
	}
	switch {
	case in.Token == nil:
		msgs = append(msgs, "Value null at 'token' failed to satisfy constraint: Member must not be null")
	case len(*in.Token) < 1:
		msgs = append(msgs, "Value at 'token' failed to satisfy constraint: Member must have length greater than or equal to 1")
	case !tokenRe.MatchString(*in.Token):
		// The token is sensitive: AWS does not echo it.
		msgs = append(msgs, "Value at 'token' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9-_=]+\\.[A-Za-z0-9-_=]+\\.[A-Za-z0-9-_=]+")
	}
	if len(msgs) > 0 {
		s := ""
		if len(msgs) > 1 {
			s = "s"
		}
		return Request{}, apiErr(CodeInvalidParameter, "%d validation error%s detected: %s", len(msgs), s, strings.Join(msgs, "; "))
	}
	return Request{ClusterName: name, Token: *in.Token}, nil
}

// Response is the AssumeRoleForPodIdentity result.
type Response struct {
	Subject                Subject                `json:"subject"`
	Audience               string                 `json:"audience"`
	PodIdentityAssociation PodIdentityAssociation `json:"podIdentityAssociation"`
	AssumedRoleUser        AssumedRoleUser        `json:"assumedRoleUser"`
	Credentials            Credentials            `json:"credentials"`
}

// Subject names the service account the credentials are for.
type Subject struct {
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
}

// PodIdentityAssociation names the association that matched.
type PodIdentityAssociation struct {
	AssociationARN string `json:"associationArn"`
	AssociationID  string `json:"associationId"`
}

// AssumedRoleUser is the session's ARN and ROLEID:SESSIONNAME.
type AssumedRoleUser struct {
	ARN          string `json:"arn"`
	AssumeRoleID string `json:"assumeRoleId"`
}

// Credentials are the session's keys; Expiration is epoch seconds, the
// REST-JSON default timestamp format.
type Credentials struct {
	SessionToken    string `json:"sessionToken"`
	SecretAccessKey string `json:"secretAccessKey"`
	AccessKeyID     string `json:"accessKeyId"`
	Expiration      int64  `json:"expiration"`
}

func writeJSON(w http.ResponseWriter, v any) error {
	return json.NewEncoder(w).Encode(v)
}
