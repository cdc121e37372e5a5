package eksagent

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

	"github.com/idlab/idlab/internal/sigv4"
)

// Credentials are the node's AWS credentials the agent signs with.
type Credentials = sigv4.Credentials

// CredentialsProvider gives the node's current credentials (the node role
// from IMDS in a cluster; the command wires the AWS SDK's default chain).
type CredentialsProvider interface {
	Retrieve(ctx context.Context) (Credentials, error)
}

// CredentialsFunc adapts a function to CredentialsProvider.
type CredentialsFunc func(ctx context.Context) (Credentials, error)

// Retrieve calls f.
func (f CredentialsFunc) Retrieve(ctx context.Context) (Credentials, error) { return f(ctx) }

// Response is the container-credentials JSON the SDKs read (upstream
// EksCredentialsResponse).
type Response struct {
	AccessKeyID     string    `json:"AccessKeyId,omitempty"`
	SecretAccessKey string    `json:"SecretAccessKey,omitempty"`
	Token           string    `json:"Token,omitempty"`
	AccountID       string    `json:"AccountId,omitempty"`
	Expiration      time.Time `json:"Expiration"`
}

// MarshalJSON writes Expiration as RFC 3339 with nanoseconds, as upstream's
// SdkCompliantExpirationTime.
func (r Response) MarshalJSON() ([]byte, error) {
	type plain Response
	return json.Marshal(struct {
		plain
		Expiration string `json:"Expiration"`
	}{plain(r), r.Expiration.UTC().Format(time.RFC3339Nano)})
}

// serviceError is an EKS Auth error response: its HTTP status, code
// (X-Amzn-ErrorType), message and request ID.
type serviceError struct {
	status    int
	code      string
	message   string
	requestID string
}

func (e *serviceError) Error() string {
	return fmt.Sprintf("https response error StatusCode: %d, RequestID: %s, %s: %s", e.status, e.requestID, e.code, e.message)
}

// fault is how the SDK classes the error: the service model's server
// errors, its client errors, or unknown for codes it does not model.
func (e *serviceError) fault() string {
	switch e.code {
	case "InternalServerException", "ServiceUnavailableException":
		return "server"
	case "AccessDeniedException", "ExpiredTokenException", "InvalidParameterException", "InvalidRequestException",
		"InvalidTokenException", "ResourceNotFoundException", "ThrottlingException":
		return "client"
	}
	return "unknown"
}

// eksAuthResponse is the part of AssumeRoleForPodIdentity's answer the
// agent uses.
type eksAuthResponse struct {
	AssumedRoleUser struct {
		ARN string `json:"arn"`
	} `json:"assumedRoleUser"`
	PodIdentityAssociation struct {
		AssociationID string `json:"associationId"`
	} `json:"podIdentityAssociation"`
	Credentials *struct {
		AccessKeyID     string  `json:"accessKeyId"`
		SecretAccessKey string  `json:"secretAccessKey"`
		SessionToken    string  `json:"sessionToken"`
		Expiration      float64 `json:"expiration"`
	} `json:"credentials"`
}

// maxResponse bounds EKS Auth's answer.
const maxResponse = 1 << 20

// assumeRoleForPodIdentity calls EKS Auth for token.
func (a *Agent) assumeRoleForPodIdentity(ctx context.Context, token string) (*Response, string, error) {
	creds, err := a.opts.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("retrieve node credentials: %w", err)
	}
	body, err := json.Marshal(map[string]string{"token": token})
	if err != nil {
		return nil, "", err
	}
	u := strings.TrimSuffix(a.opts.Endpoint, "/") + "/clusters/" + url.PathEscape(a.opts.ClusterName) + "/assume-role-for-pod-identity"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if err := sigv4.Sign(req, body, creds, a.opts.Region, "eks-auth", a.opts.Now()); err != nil {
		return nil, "", err
	}
	resp, err := a.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, "", fmt.Errorf("read EKS Auth response: %w", err)
	}
	reqID := resp.Header.Get("X-Amzn-RequestId")
	if resp.StatusCode != http.StatusOK {
		e := &serviceError{status: resp.StatusCode, requestID: reqID, code: resp.Header.Get("X-Amzn-ErrorType")}
		var msg struct {
			Message      string `json:"message"`
			MessageUpper string `json:"Message"`
			Type         string `json:"__type"`
		}
		_ = json.Unmarshal(raw, &msg)
		e.message = msg.Message
		if e.message == "" {
			e.message = msg.MessageUpper
		}
		if e.code == "" {
			e.code = msg.Type
		}
		// X-Amzn-ErrorType may carry ":http://..." after the code.
		e.code, _, _ = strings.Cut(e.code, ":")
		if e.code == "" {
			e.code = "UnknownError"
		}
		return nil, "", e
	}
	var out eksAuthResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, "", fmt.Errorf("decode EKS Auth response: %w", err)
	}
	if out.Credentials == nil || out.AssumedRoleUser.ARN == "" {
		return nil, "", fmt.Errorf("invalid response from server: credentials or assumed role empty: %s", raw)
	}
	// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
	parts := strings.SplitN(out.AssumedRoleUser.ARN, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return nil, "", fmt.Errorf("unable to parse arn from assumed role: %q", out.AssumedRoleUser.ARN)
	}
	sec := int64(out.Credentials.Expiration)
	return &Response{
		AccessKeyID:     out.Credentials.AccessKeyID,
		SecretAccessKey: out.Credentials.SecretAccessKey,
		Token:           out.Credentials.SessionToken,
		AccountID:       parts[4],
		Expiration:      time.Unix(sec, int64((out.Credentials.Expiration-float64(sec))*1e9)).UTC(),
	}, out.PodIdentityAssociation.AssociationID, nil
}
