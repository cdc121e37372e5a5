package awsiam

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// PolicyKind says where a policy document is attached; validation differs.
type PolicyKind int

// Policy kinds.
const (
	IdentityPolicy PolicyKind = iota // attached to a user or role: no Principal
	ResourcePolicy                   // bucket/topic policy: Principal required
	TrustPolicy                      // role trust policy: Principal required, sts actions
	SessionPolicy                    // passed to AssumeRole*: no Principal
)

// Size limits IAM applies to policy documents (characters, whitespace excluded
// for session policies as STS packs them).
const (
	MaxIdentityPolicySize = 10240
	MaxTrustPolicySize    = 2048
	MaxSessionPolicySize  = 2048
	MaxResourcePolicySize = 20480
	// MaxManagedPolicySize bounds one customer managed policy document.
	MaxManagedPolicySize = 6144
	// MaxUserInlineTotal and MaxRoleInlineTotal bound the sum of a user's or
	// role's inline policies, as IAM's quotas do.
	MaxUserInlineTotal = 2048
	MaxRoleInlineTotal = 10240
)

// inlineTotal sums the packed sizes of inline policies against an IAM quota.
func inlineTotal(ps map[string]*Policy, limit int) error {
	n := 0
	for _, p := range ps {
		if p != nil {
			n += len(compact(p.Raw))
		}
	}
	if n > limit {
		return perr("Cannot exceed quota for PolicySize: %d", limit)
	}
	return nil
}

// Policy is a parsed IAM policy document.
type Policy struct {
	Version    string
	ID         string
	Statements []Statement
	Raw        []byte
}

// Statement is one policy statement.
type Statement struct {
	Sid          string
	Effect       string // "Allow" or "Deny"
	Principal    *Principals
	NotPrincipal *Principals
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Conditions   []Condition
	hasResource  bool
}

// Principals is the Principal element: "*" or typed lists.
type Principals struct {
	Wildcard bool                // "Principal": "*"
	Values   map[string][]string // AWS, Federated, Service, CanonicalUser
}

// Condition is one operator/key/values triple of a Condition block.
type Condition struct {
	Operator string // as written, e.g. "ForAnyValue:StringLikeIfExists"
	Key      string
	Values   []string
	op       conditionOp
}

// PolicyError is a malformed policy; STS and IAM report it as
// MalformedPolicyDocument.
type PolicyError struct {
	Msg string
}

func (e *PolicyError) Error() string { return e.Msg }

func perr(format string, args ...any) *PolicyError {
	return &PolicyError{Msg: fmt.Sprintf(format, args...)}
}

var validVersions = map[string]bool{"2012-10-17": true, "2008-10-17": true}

// ParsePolicy parses a JSON policy document with IAM's grammar. It does not
// apply kind-specific rules; see ValidateFor.
func ParsePolicy(doc []byte) (*Policy, error) {
	doc = bytes.TrimSpace(doc)
	var top map[string]json.RawMessage
	if err := strictDecode(doc, &top); err != nil {
		return nil, perr("Syntax errors in policy.")
	}
	p := &Policy{Raw: append([]byte(nil), doc...)}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return keyOrder(keys[a]) < keyOrder(keys[b]) })
	for _, k := range keys {
		v := top[k]
		switch k {
		case "Version":
			if err := json.Unmarshal(v, &p.Version); err != nil || !validVersions[p.Version] {
				return nil, perr("The policy must contain a valid version string")
			}
		case "Id":
			if err := json.Unmarshal(v, &p.ID); err != nil {
				return nil, perr("Syntax errors in policy.")
			}
		case "Statement":
			stmts, err := parseStatements(v)
			if err != nil {
				return nil, err
			}
			p.Statements = stmts
		default:
			return nil, perr("Syntax errors in policy.")
		}
	}
	if _, ok := top["Statement"]; !ok {
		return nil, perr("Syntax errors in policy.")
	}
	if p.Version == "" {
		p.Version = "2008-10-17" // IAM's default when Version is omitted: no policy variables
	}
	return p, nil
}

// keyOrder checks Version first so its error wins, as IAM reports it.
func keyOrder(k string) int {
	switch k {
	case "Version":
		return 0
	case "Id":
		return 1
	case "Statement":
		return 2
	}
	return 3
}

// MarshalJSON renders the policy as its compact JSON document, so a Policy
// survives persistence (session policies in DataDir) and the admin API.
func (p *Policy) MarshalJSON() ([]byte, error) {
	if p == nil {
		return []byte("null"), nil
	}
	if len(p.Raw) == 0 {
		return nil, fmt.Errorf("policy has no document")
	}
	return compact(p.Raw), nil
}

// UnmarshalJSON parses a policy document with ParsePolicy.
func (p *Policy) UnmarshalJSON(b []byte) error {
	q, err := ParsePolicy(b)
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

// MustParsePolicy parses a policy known to be valid (tests, examples).
func MustParsePolicy(doc string) *Policy {
	p, err := ParsePolicy([]byte(doc))
	if err != nil {
		panic(err)
	}
	return p
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) > 0 {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

func parseStatements(raw json.RawMessage) ([]Statement, error) {
	raw = bytes.TrimSpace(raw)
	var items []json.RawMessage
	if len(raw) > 0 && raw[0] == '{' {
		items = []json.RawMessage{raw}
	} else if err := json.Unmarshal(raw, &items); err != nil {
		return nil, perr("Syntax errors in policy.")
	}
	if len(items) == 0 {
		return nil, perr("Syntax errors in policy.")
	}
	out := make([]Statement, 0, len(items))
	sids := map[string]bool{}
	for _, it := range items {
		s, err := parseStatement(it)
		if err != nil {
			return nil, err
		}
		if s.Sid != "" {
			if sids[s.Sid] {
				return nil, perr("Statement IDs (SID) in a single policy must be unique")
			}
			sids[s.Sid] = true
		}
		out = append(out, s)
	}
	return out, nil
}

func parseStatement(raw json.RawMessage) (Statement, error) {
	var m map[string]json.RawMessage
	if err := strictDecode(raw, &m); err != nil || m == nil {
		return Statement{}, perr("Syntax errors in policy.")
	}
	var s Statement
	var err error
	for k, v := range m {
		switch k {
		case "Sid":
			if json.Unmarshal(v, &s.Sid) != nil {
				return s, perr("Syntax errors in policy.")
			}
		case "Effect":
			if json.Unmarshal(v, &s.Effect) != nil || (s.Effect != "Allow" && s.Effect != "Deny") {
				return s, perr("Invalid effect: %s", strings.Trim(string(v), `"`))
			}
		case "Principal":
			s.Principal, err = parsePrincipals(v)
		case "NotPrincipal":
			s.NotPrincipal, err = parsePrincipals(v)
		case "Action":
			s.Action, err = stringOrList(v, "Action")
		case "NotAction":
			s.NotAction, err = stringOrList(v, "NotAction")
		case "Resource":
			s.Resource, err = stringOrList(v, "Resource")
			s.hasResource = true
		case "NotResource":
			s.NotResource, err = stringOrList(v, "NotResource")
			s.hasResource = true
		case "Condition":
			s.Conditions, err = parseConditions(v)
		default:
			return s, perr("Syntax errors in policy.")
		}
		if err != nil {
			return s, err
		}
	}
	switch {
	case s.Effect == "":
		return s, perr("Missing required field Effect")
	case s.Action == nil && s.NotAction == nil:
		return s, perr("Policy statement must contain actions.")
	case s.Action != nil && s.NotAction != nil:
		return s, perr("Statement cannot contain both Action and NotAction")
	case s.Resource != nil && s.NotResource != nil:
		return s, perr("Statement cannot contain both Resource and NotResource")
	case s.Principal != nil && s.NotPrincipal != nil:
		return s, perr("Statement cannot contain both Principal and NotPrincipal")
	}
	for _, a := range append(append([]string{}, s.Action...), s.NotAction...) {
		if a != "*" && !strings.Contains(a, ":") {
			return s, perr("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
		}
	}
	return s, nil
}

// stringOrList accepts "x" or ["x","y"]; empty lists are malformed.
func stringOrList(raw json.RawMessage, field string) ([]string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || len(many) == 0 {
		return nil, perr("Syntax errors in policy. (%s must be a string or a non-empty array of strings)", field)
	}
	return many, nil
}

var principalTypes = map[string]bool{"AWS": true, "Federated": true, "Service": true, "CanonicalUser": true}

func parsePrincipals(raw json.RawMessage) (*Principals, error) {
	var star string
	if json.Unmarshal(raw, &star) == nil {
		if star != "*" {
			return nil, perr("Invalid principal in policy: %q", star)
		}
		return &Principals{Wildcard: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) == 0 {
		return nil, perr("Invalid principal in policy")
	}
	p := &Principals{Values: map[string][]string{}}
	for k, v := range m {
		if !principalTypes[k] {
			return nil, perr("Invalid principal in policy: %s", k)
		}
		vals, err := stringOrList(v, "Principal")
		if err != nil {
			return nil, perr("Invalid principal in policy")
		}
		for _, val := range vals {
			if val == "" || (strings.ContainsAny(val, "*?") && val != "*") {
				return nil, perr("Invalid principal in policy: %q", val)
			}
		}
		p.Values[k] = vals
	}
	return p, nil
}

func parseConditions(raw json.RawMessage) ([]Condition, error) {
	var m map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, perr("Syntax errors in policy. (Condition must map operators to key/value objects)")
	}
	var out []Condition
	ops := make([]string, 0, len(m))
	for op := range m {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, opName := range ops {
		op, err := parseOperator(opName)
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(m[opName]))
		for k := range m[opName] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) == 0 {
			return nil, perr("Syntax errors in policy. (condition operator %s has no keys)", opName)
		}
		for _, k := range keys {
			vals, err := conditionValues(m[opName][k])
			if err != nil {
				return nil, err
			}
			if !strings.Contains(k, ":") {
				return nil, perr("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
			}
			out = append(out, Condition{Operator: opName, Key: k, Values: vals, op: op})
		}
	}
	return out, nil
}

// conditionValues accepts a scalar or an array of scalars (string, number,
// bool), all compared as strings.
func conditionValues(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, perr("Syntax errors in policy.")
	}
	scalar := func(x any) (string, bool) {
		switch t := x.(type) {
		case string:
			return t, true
		case json.Number:
			return t.String(), true
		case bool:
			return strconv.FormatBool(t), true
		}
		return "", false
	}
	if s, ok := scalar(v); ok {
		return []string{s}, nil
	}
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return nil, perr("Syntax errors in policy. (condition values must be scalars or a non-empty array)")
	}
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		s, ok := scalar(x)
		if !ok {
			return nil, perr("Syntax errors in policy. (condition values must be scalars)")
		}
		out = append(out, s)
	}
	return out, nil
}

// ValidateFor applies the rules of where the policy is attached.
func (p *Policy) ValidateFor(kind PolicyKind) error {
	size := len(compact(p.Raw))
	limit := map[PolicyKind]int{IdentityPolicy: MaxIdentityPolicySize, ResourcePolicy: MaxResourcePolicySize, TrustPolicy: MaxTrustPolicySize, SessionPolicy: MaxSessionPolicySize}[kind]
	if size > limit {
		return perr("Cannot exceed quota for PolicySize: %d", limit)
	}
	for _, s := range p.Statements {
		hasPrincipal := s.Principal != nil || s.NotPrincipal != nil
		switch kind {
		case IdentityPolicy, SessionPolicy:
			if hasPrincipal {
				return perr("Policy document should not specify a principal.")
			}
			if !s.hasResource {
				return perr("Policy statement must contain resources.")
			}
		case ResourcePolicy, TrustPolicy:
			if !hasPrincipal {
				return perr("Missing required field Principal")
			}
		}
		if kind == TrustPolicy {
			if s.hasResource {
				return perr("Has prohibited field Resource")
			}
			for _, a := range s.Action {
				if a != "*" && !strings.HasPrefix(strings.ToLower(a), "sts:") {
					return perr("AssumeRolePolicy policy only supports sts actions, got %s", a)
				}
			}
		}
	}
	return nil
}

// compact strips insignificant whitespace, as IAM counts policy size.
func compact(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}
