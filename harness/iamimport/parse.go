package iamimport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/idlab/idlab/internal/lazyre"
)

// Kind is which awscli command printed a file.
type Kind int

// The outputs Parse reads.
const (
	KindRole          Kind = iota + 1 // aws iam get-role (or create-role)
	KindRolePolicy                    // aws iam get-role-policy
	KindAttached                      // aws iam list-attached-role-policies
	KindPolicy                        // aws iam get-policy (or create-policy)
	KindPolicyVersion                 // aws iam get-policy-version
	KindOIDCProvider                  // aws iam get-open-id-connect-provider
)

var kindNames = map[Kind]string{KindRole: "get-role", KindRolePolicy: "get-role-policy", KindAttached: "list-attached-role-policies",
	KindPolicy: "get-policy", KindPolicyVersion: "get-policy-version", KindOIDCProvider: "get-open-id-connect-provider"}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Tag is an IAM tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// File is one parsed output; the field of its Kind is set.
type File struct {
	Name       string // the file as given, for messages
	Kind       Kind
	Role       *Role
	RolePolicy *InlinePolicy
	Attached   []Attachment
	Policy     *Policy // from get-policy: no document
	Version    string  // from get-policy-version: the document
	Provider   *Provider
}

// Role is a role to create or update.
type Role struct {
	Account            string
	Name               string
	Path               string
	TrustPolicy        string
	Description        string
	MaxSessionDuration int32 // seconds; 0 for IAM's default
	Tags               []Tag
}

// InlinePolicy is an inline policy of a role.
type InlinePolicy struct {
	Account  string // "" until Build supplies it
	Role     string
	Name     string
	Document string
}

// Attachment is a managed policy attached to a role.
type Attachment struct {
	Account   string // the role's; "" until Build supplies it
	Role      string // "" until Build supplies it
	PolicyARN string
	Name      string
}

// Policy is a customer managed policy.
type Policy struct {
	ARN         string
	Account     string
	Name        string
	Path        string
	Description string
	Document    string // "" when the import holds none
}

// Provider is an IAM OIDC provider.
type Provider struct {
	Account     string // "" until Build supplies it
	URL         string // https://host/path
	ClientIDs   []string
	Thumbprints []string
	Tags        []Tag
}

// ARN is the provider's ARN, derived from its account and URL as IAM
// derives it.
func (p *Provider) ARN() string {
	return "arn:aws:iam::" + p.Account + ":oidc-provider/" + strings.TrimPrefix(p.URL, "https://")
}

var (
	roleARNRe   = lazyre.New(`^arn:aws:iam::([0-9]{12}):role(/.*/|/)([\w+=,.@-]{1,64})$`)
	policyARNRe = lazyre.New(`^arn:aws:iam::([0-9]{12}|aws):policy(/.*/|/)([\w+=,.@-]{1,128})$`)
)

// maxFile bounds an input file: an output with the largest documents IAM
// allows is far smaller.
const maxFile = 4 << 20

// Parse reads one awscli output. name labels errors and, for
// get-policy-version, names the policy (see Build).
func Parse(name string, raw []byte) (*File, error) {
	if len(raw) > maxFile {
		return nil, fmt.Errorf("%s: over %d bytes: not an IAM output", name, maxFile)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, fmt.Errorf("%s: not a JSON object as awscli prints (use --output json): %v", name, err)
	}
	f := &File{Name: name}
	var err error
	switch {
	case top["Role"] != nil:
		f.Kind = KindRole
		f.Role, err = parseRole(top["Role"])
	case top["RoleName"] != nil && top["PolicyName"] != nil && top["PolicyDocument"] != nil:
		f.Kind = KindRolePolicy
		f.RolePolicy, err = parseRolePolicy(top)
	case top["AttachedPolicies"] != nil:
		f.Kind = KindAttached
		f.Attached, err = parseAttached(top["AttachedPolicies"])
	case top["PolicyVersion"] != nil:
		f.Kind = KindPolicyVersion
		var v struct {
			Document json.RawMessage `json:"Document"`
		}
		if err = json.Unmarshal(top["PolicyVersion"], &v); err == nil {
			f.Version, err = document(v.Document, "PolicyVersion.Document")
		}
	case top["Policy"] != nil:
		f.Kind = KindPolicy
		f.Policy, err = parsePolicy(top["Policy"])
	case top["Url"] != nil:
		f.Kind = KindOIDCProvider
		f.Provider, err = parseProvider(top)
	default:
		return nil, fmt.Errorf("%s: not the output of aws iam get-role, get-role-policy, list-attached-role-policies, get-policy, get-policy-version or get-open-id-connect-provider", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s (%s output): %w", name, f.Kind, err)
	}
	return f, nil
}

// document reads a policy document as awscli prints it (a JSON object) or
// as the API returns it (a string, URL-encoded or not), compacted.
func document(raw json.RawMessage, field string) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", fmt.Errorf("%s is missing", field)
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%s: %w", field, err)
		}
		if strings.HasPrefix(s, "%") {
			// URL-encoded as IAM sends it: %7B... PathUnescape keeps a
			// literal + a +, as IAM's encoding has none for spaces.
			u, err := url.PathUnescape(s)
			if err != nil {
				return "", fmt.Errorf("%s: not URL-encoded JSON: %w", field, err)
			}
			s = u
		}
		raw = []byte(s)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return "", fmt.Errorf("%s is not a JSON policy document", field)
	}
	return buf.String(), nil
}

func parseRole(raw json.RawMessage) (*Role, error) {
	var r struct {
		RoleName                 string          `json:"RoleName"`
		Path                     string          `json:"Path"`
		Arn                      string          `json:"Arn"`
		AssumeRolePolicyDocument json.RawMessage `json:"AssumeRolePolicyDocument"`
		Description              string          `json:"Description"`
		MaxSessionDuration       int32           `json:"MaxSessionDuration"`
		Tags                     []Tag           `json:"Tags"`
		PermissionsBoundary      json.RawMessage `json:"PermissionsBoundary"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	m := roleARNRe.FindStringSubmatch(r.Arn)
	switch {
	case m == nil:
		return nil, fmt.Errorf("Role.Arn %q is not a role ARN", r.Arn)
	case r.RoleName != "" && r.RoleName != m[3]:
		return nil, fmt.Errorf("Role.RoleName %q is not the name in Role.Arn %s", r.RoleName, r.Arn)
	case r.Path != "" && r.Path != m[2]:
		return nil, fmt.Errorf("Role.Path %q is not the path in Role.Arn %s", r.Path, r.Arn)
	case len(r.PermissionsBoundary) > 0 && string(r.PermissionsBoundary) != "null":
		return nil, errors.New("the role has a permissions boundary, which idlab does not evaluate: remove PermissionsBoundary to import it without one")
	}
	trust, err := document(r.AssumeRolePolicyDocument, "Role.AssumeRolePolicyDocument")
	if err != nil {
		return nil, err
	}
	return &Role{Account: m[1], Name: m[3], Path: m[2], TrustPolicy: trust, Description: r.Description,
		MaxSessionDuration: r.MaxSessionDuration, Tags: r.Tags}, nil
}

func parseRolePolicy(top map[string]json.RawMessage) (*InlinePolicy, error) {
	var p InlinePolicy
	if err := json.Unmarshal(top["RoleName"], &p.Role); err != nil || p.Role == "" {
		return nil, errors.New("RoleName is not a name")
	}
	if err := json.Unmarshal(top["PolicyName"], &p.Name); err != nil || p.Name == "" {
		return nil, errors.New("PolicyName is not a name")
	}
	var err error
	p.Document, err = document(top["PolicyDocument"], "PolicyDocument")
	return &p, err
}

func parseAttached(raw json.RawMessage) ([]Attachment, error) {
	var list []struct {
		PolicyName string `json:"PolicyName"`
		PolicyArn  string `json:"PolicyArn"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("AttachedPolicies: %w", err)
	}
	out := []Attachment{}
	for _, a := range list {
		m := policyARNRe.FindStringSubmatch(a.PolicyArn)
		if m == nil {
			return nil, fmt.Errorf("AttachedPolicies: %q is not a policy ARN", a.PolicyArn)
		}
		out = append(out, Attachment{PolicyARN: a.PolicyArn, Name: m[3]})
	}
	return out, nil
}

func parsePolicy(raw json.RawMessage) (*Policy, error) {
	var p struct {
		Arn         string `json:"Arn"`
		Description string `json:"Description"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	m := policyARNRe.FindStringSubmatch(p.Arn)
	if m == nil {
		return nil, fmt.Errorf("Policy.Arn %q is not a policy ARN", p.Arn)
	}
	return &Policy{ARN: p.Arn, Account: m[1], Path: m[2], Name: m[3], Description: p.Description}, nil
}

func parseProvider(top map[string]json.RawMessage) (*Provider, error) {
	var p struct {
		URL            string   `json:"Url"`
		ClientIDList   []string `json:"ClientIDList"`
		ThumbprintList []string `json:"ThumbprintList"`
		Tags           []Tag    `json:"Tags"`
	}
	raw, _ := json.Marshal(top)
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	u := strings.TrimPrefix(p.URL, "https://")
	if u == "" || strings.Contains(u, "://") || strings.ContainsAny(u, "?# ") {
		return nil, fmt.Errorf("Url %q is not an issuer host and path", p.URL)
	}
	return &Provider{URL: "https://" + u, ClientIDs: p.ClientIDList, Thumbprints: p.ThumbprintList, Tags: p.Tags}, nil
}

// policyFileName is the policy name a get-policy-version file stands for:
// its base name without the .json extension.
func policyFileName(name string) string {
	return strings.TrimSuffix(filepath.Base(name), ".json")
}
