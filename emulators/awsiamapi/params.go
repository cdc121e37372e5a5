package awsiamapi

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/awsxml"
)

// constraint is a string shape of IAM's API model (botocore's
// iam/2010-05-08/service-2.json): length bounds in characters and a
// pattern, quoted in messages as the model writes it.
type constraint struct {
	min, max int
	pattern  string         // as the model writes it, for messages
	re       *regexp.Regexp // the pattern, anchored, in Go's syntax
}

func shape(min, max int, pattern, goPattern string) constraint {
	c := constraint{min: min, max: max, pattern: pattern}
	if goPattern != "" {
		c.re = regexp.MustCompile(`^(?:` + goPattern + `)$`)
	}
	return c
}

// The model's shapes the API reads.
var (
	roleNameType         = shape(1, 64, `[\w+=,.@-]+`, `[\w+=,.@-]+`)
	userNameType         = shape(1, 64, `[\w+=,.@-]+`, `[\w+=,.@-]+`)
	existingUserNameType = shape(1, 128, `[\w+=,.@-]+`, `[\w+=,.@-]+`)
	policyNameType       = shape(1, 128, `[\w+=,.@-]+`, `[\w+=,.@-]+`)
	pathType             = shape(1, 512, `(\u002F)|(\u002F[\u0021-\u007F]+\u002F)`, `/|/[\x{21}-\x{7F}]+/`)
	pathPrefixType       = shape(1, 512, `\u002F[\u0021-\u007F]*`, `/[\x{21}-\x{7F}]*`)
	policyPathType       = shape(1, 512, `((/[A-Za-z0-9\.,\+@=_-]+)*)/`, `(/[A-Za-z0-9.,+@=_-]+)*/`)
	policyDocumentType   = shape(1, 131072, `[\u0009\u000A\u000D\u0020-\u00FF]+`, `[\x{09}\x{0A}\x{0D}\x{20}-\x{FF}]+`)
	roleDescriptionType  = shape(0, 1000, `[\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}]*`, `[\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}]*`)
	policyDescription    = shape(0, 1000, "", "")
	arnType              = shape(20, 2048, "", "")
	policyVersionIDType  = shape(0, 0, `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`, `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`)
	oidcURLType          = shape(1, 255, "", "")
	clientIDType         = shape(1, 255, "", "")
	thumbprintType       = shape(40, 40, "", "")
	tagKeyType           = shape(1, 128, `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`, `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`)
	tagValueType         = shape(0, 256, `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`, `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`)
	accessKeyIDType      = shape(16, 128, `[\w]+`, `[\w]+`)
	markerType           = shape(1, 320, `[\u0020-\u00FF]+`, `[\x{20}-\x{FF}]+`)
	actionNameType       = shape(3, 128, "", "")
	resourceNameType     = shape(1, 2048, "", "")
	contextKeyNameType   = shape(5, 256, "", "")
)

// member is a parameter's name in messages: lower camel case, as IAM's
// ValidationError names them ("roleName").
func member(param string) string {
	if param == "" {
		return param
	}
	return strings.ToLower(param[:1]) + param[1:]
}

// invalid records a ValidationError clause.
func (c *call) invalid(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// check is the ValidationError for what was recorded, or nil: "N
// validation errors detected: ...; ...", as AWS's query APIs word it.
func (c *call) check() error {
	if len(c.errs) == 0 {
		return nil
	}
	s := ""
	if len(c.errs) > 1 {
		s = "s"
	}
	return awsxml.Errorf(400, "ValidationError", "%d validation error%s detected: %s", len(c.errs), s, strings.Join(c.errs, "; "))
}

// checkValue records the constraint violations of v at name.
func (c *call) checkValue(name, v string, k constraint) {
	n := utf8.RuneCountInString(v)
	switch {
	case n < k.min:
		c.invalid("Value '%s' at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", v, name, k.min)
	case k.max > 0 && n > k.max:
		c.invalid("Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", v, name, k.max)
	case k.re != nil && !k.re.MatchString(v):
		c.invalid("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", v, name, k.pattern)
	}
}

// str reads an optional string parameter; ok reports it was given.
func (c *call) str(param string, k constraint) (string, bool) {
	if !c.p.Has(param) {
		return "", false
	}
	v := c.p.Get(param)
	c.checkValue(member(param), v, k)
	return v, true
}

// required reads a string parameter that must be present.
func (c *call) required(param string, k constraint) string {
	v, ok := c.str(param, k)
	if !ok {
		c.invalid("Value null at '%s' failed to satisfy constraint: Member must not be null", member(param))
	}
	return v
}

// integer reads an optional integer parameter within [min, max].
func (c *call) integer(param string, min, max int) (int, bool) {
	if !c.p.Has(param) {
		return 0, false
	}
	s := c.p.Get(param)
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		c.invalid("Value '%s' at '%s' failed to satisfy constraint: Member must be a number", s, member(param))
	case n < min:
		c.invalid("Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", n, member(param), min)
	case n > max:
		c.invalid("Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", n, member(param), max)
	default:
		return n, true
	}
	return 0, false
}

// boolean reads an optional boolean parameter.
func (c *call) boolean(param string) bool {
	if !c.p.Has(param) {
		return false
	}
	switch s := c.p.Get(param); s {
	case "true":
		return true
	case "false":
	default:
		c.invalid("Value '%s' at '%s' failed to satisfy constraint: Member must be a boolean", s, member(param))
	}
	return false
}

// enum reads an optional parameter from a value set.
func (c *call) enum(param string, values ...string) (string, bool) {
	if !c.p.Has(param) {
		return "", false
	}
	v := c.p.Get(param)
	if !slices.Contains(values, v) {
		c.invalid("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", v, member(param), strings.Join(values, ", "))
	}
	return v, true
}

// list reads the scalar list param.member.N, each checked against k.
func (c *call) list(param string, k constraint) []string {
	vals := awsxml.Strings(c.p, param)
	for _, v := range vals {
		c.checkValue(member(param)+".member", v, k)
	}
	return vals
}

// tags reads Tags.member.N.Key / .Value.
func (c *call) tags(param string) map[string]string {
	members := awsxml.Members(c.p, param)
	if len(members) == 0 {
		return nil
	}
	if len(members) > awsiam.MaxTagsPerEntity {
		c.invalid("Value '%d' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", len(members), member(param), awsiam.MaxTagsPerEntity)
	}
	out := make(map[string]string, len(members))
	for _, m := range members {
		k, v := m.Get("Key"), m.Get("Value")
		if !m.Has("Key") {
			c.invalid("Value null at '%s.member.key' failed to satisfy constraint: Member must not be null", member(param))
			continue
		}
		c.checkValue(member(param)+".member.key", k, tagKeyType)
		c.checkValue(member(param)+".member.value", v, tagValueType)
		out[k] = v
	}
	return out
}

// document reads a policy document parameter and parses it; a document
// IAM's grammar refuses is MalformedPolicyDocument. While other
// parameters are invalid it parses nothing and returns nil: the caller
// calls check before using the document.
func (c *call) document(param string, required bool) (*awsiam.Policy, error) {
	var raw string
	if required {
		raw = c.required(param, policyDocumentType)
	} else if v, ok := c.str(param, policyDocumentType); ok {
		raw = v
	}
	if len(c.errs) > 0 || raw == "" {
		return nil, nil // the caller's check reports the ValidationError
	}
	p, err := awsiam.ParsePolicy([]byte(raw))
	if err != nil {
		return nil, storeErr(err)
	}
	return p, nil
}

// paging reads MaxItems (1..1000, 100 by default) and Marker once; a
// List action calls it with its other parameters, before authorizing.
func (c *call) paging() {
	if c.pg.read {
		return
	}
	c.pg.read = true
	c.pg.limit = 100
	if n, ok := c.integer("MaxItems", 1, 1000); ok {
		c.pg.limit = n
	}
	c.pg.marker, c.pg.given = c.str("Marker", markerType)
}

// paging is what paging read.
type paging struct {
	read, given bool
	limit       int
	marker      string
}

// page cuts one page of items (sorted by key) at Marker and MaxItems.
// The marker is the next item's key, opaque to the caller; a marker that
// does not decode is InvalidInput.
func page[T any](c *call, items []T, key func(T) string) (out []T, truncated bool, marker string, err error) {
	c.paging()
	if err := c.check(); err != nil {
		return nil, false, "", err
	}
	limit, start := c.pg.limit, 0
	if c.pg.given {
		k, derr := base64.RawURLEncoding.DecodeString(c.pg.marker)
		if derr != nil {
			return nil, false, "", awsxml.Errorf(400, "InvalidInput", "Invalid Marker.")
		}
		start, _ = slices.BinarySearchFunc(items, string(k), func(it T, k string) int { return strings.Compare(key(it), k) })
	}
	end := min(start+limit, len(items))
	if end < len(items) {
		return items[start:end], true, base64.RawURLEncoding.EncodeToString([]byte(key(items[end]))), nil
	}
	return items[start:end], false, "", nil
}

// roleARN is where a role of the caller's account named name is, for
// authorization: its own ARN when it exists, else under path.
func (c *call) roleARN(name, path string) string {
	if r, err := c.h.iam.GetRole(c.account(), name); err == nil {
		return r.ARN
	}
	if path == "" {
		path = "/"
	}
	return "arn:aws:iam::" + c.account() + ":role" + path + name
}

// userARN is roleARN for users; an empty name is the caller itself when
// the caller is a user (IAM's default for GetUser, CreateAccessKey, ...).
func (c *call) userARN(name, path string) string {
	if u, err := c.h.iam.GetUser(c.account(), name); err == nil {
		return u.ARN
	}
	if path == "" {
		path = "/"
	}
	return "arn:aws:iam::" + c.account() + ":user" + path + name
}

// callerUserName is the user an action without UserName acts on: the
// calling user, as IAM infers it from the signing key. Other callers
// must name one.
func (c *call) callerUserName() (string, error) {
	if c.caller.Type != awsiam.PrincipalUser {
		return "", awsxml.Errorf(400, "ValidationError", "Must specify userName when calling with non-User credentials")
	}
	return c.caller.ARN[strings.LastIndex(c.caller.ARN, "/")+1:], nil
}
