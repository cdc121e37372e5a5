package kube2iam

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Annotation keys, upstream's defaults (--iam-role-key, --namespace-key,
// --iam-external-id).
const (
	DefaultRoleKey       = "iam.amazonaws.com/role"
	DefaultNamespaceKey  = "iam.amazonaws.com/allowed-roles"
	DefaultExternalIDKey = "iam.amazonaws.com/external-id"
)

// Namespace restriction formats (--namespace-restriction-format).
const (
	FormatGlob   = "glob"
	FormatRegexp = "regexp"
)

// baseARNRe is upstream's check of --base-role-arn (iam.ARNRegexp in
// iam/arn.go at 4c4a2b4; dots allowed in role names since 37bb25d, 2017).
var baseARNRe = regexp.MustCompile(`^arn:(\w|-)*:iam::\d+:role\/?(\w+|-|\/|\.)*$`)

// ValidBaseARN reports whether s may be used as --base-role-arn.
func ValidBaseARN(s string) bool { return baseARNRe.MatchString(s) }

// roleARN is a role annotation as a full ARN: ARNs (any case "arn:") as
// they are, names under base.
func roleARN(base, role string) string {
	if strings.HasPrefix(strings.ToLower(role), "arn:") {
		return role
	}
	return base + role
}

// ParseAllowedRoles reads a namespace's allowed-roles annotation, a JSON
// array of strings, as upstream's GetNamespaceRoleAnnotation does: what
// encoding/json decodes is kept even when it also reports an error. So
// `["explicit-role", 1]` still allows explicit-role (the 1 becomes "", the
// base ARN itself), while text that is not JSON, or JSON that is not an
// array, allows nothing. The error says what was wrong, for the log.
func ParseAllowedRoles(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var roles []string
	if err := json.Unmarshal([]byte(s), &roles); err != nil {
		return roles, fmt.Errorf("allowed roles %q: %w", s, err)
	}
	return roles, nil
}

// globMatch reports whether s matches pattern, where only '*' is special
// and matches any run of characters (slashes too): the go-glob semantics
// kube2iam's default format has.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}

// mapping is the outcome of looking a caller up: its role or why none.
type mapping struct {
	Pod       *corev1.Pod
	Role      string // full ARN
	Namespace string
}

// mapError is a refusal with upstream's status and text.
type mapError struct {
	Status int
	Text   string
	Reason string // for the decision log
}

func (e *mapError) Error() string { return e.Text }

// allowedInNamespace decides --namespace-restrictions for role in ns, whose
// annotation lists the allowed patterns, as upstream's
// checkRoleForNamespace. It returns whether one matched, and why not when
// none did.
func (o *Options) allowedInNamespace(role string, ns *corev1.Namespace) (ok bool, why string) {
	if ns == nil {
		return false, "namespace not found"
	}
	raw := ns.Annotations[o.NamespaceKey]
	patterns, err := ParseAllowedRoles(raw)
	if err != nil {
		o.Logger.Warn("namespace annotation is not a JSON array of strings; using what it decodes to, as upstream",
			"namespace", ns.Name, "annotation", o.NamespaceKey, "err", err, "patterns", patterns)
	}
	for _, p := range patterns {
		full := roleARN(o.BaseRoleARN, p)
		if o.NamespaceRestrictionFormat == FormatRegexp {
			re, err := regexp.Compile(full)
			if err == nil && re.MatchString(role) {
				return true, ""
			}
			continue
		}
		if globMatch(full, role) {
			return true, ""
		}
	}
	switch {
	case len(patterns) > 0:
		return false, fmt.Sprintf("no pattern of %s %s matches", o.NamespaceKey, raw)
	case err != nil:
		return false, fmt.Sprintf("annotation %s is not a JSON array of strings", o.NamespaceKey)
	}
	return false, fmt.Sprintf("namespace %s has no %s annotation", ns.Name, o.NamespaceKey)
}
