package awssts

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Session tag and source identity limits from the STS API reference.
const (
	maxSessionTags   = 50
	maxTagKeyLen     = 128
	maxTagValueLen   = 256
	minSourceIDLen   = 2
	maxSourceIDLen   = 64
	sourceIDPattern  = `[\w+=,.@-]*`
	tagKeyPattern    = `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`
	tagValuePattern  = `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`
	awsTagsClaim     = "https://aws.amazon.com/tags"
	awsSourceIDClaim = "https://aws.amazon.com/source_identity"
)

var (
	sourceIDRe = regexp.MustCompile(`^` + sourceIDPattern + `$`)
	tagKeyRe   = regexp.MustCompile(`^` + tagKeyPattern + `$`)
	tagValueRe = regexp.MustCompile(`^` + tagValuePattern + `$`)
)

// sessionAttrs are the session tags, transitive tag keys and source identity
// a new session carries, from request parameters (AssumeRole) or token
// claims (AssumeRoleWithWebIdentity).
type sessionAttrs struct {
	tags           map[string]string
	tagKeys        []string // in request order
	transitive     []string
	sourceIdentity string
}

// condition adds the keys the trust policy sees for these attributes.
func (a *sessionAttrs) condition(cond map[string][]string) {
	for _, k := range a.tagKeys {
		cond["aws:RequestTag/"+k] = []string{a.tags[k]}
		cond["aws:TagKeys"] = append(cond["aws:TagKeys"], k)
	}
	if a.sourceIdentity != "" {
		cond["sts:SourceIdentity"] = []string{a.sourceIdentity}
	}
	if len(a.transitive) > 0 {
		cond["sts:TransitiveTagKeys"] = a.transitive
	}
}

// parseSessionParams reads Tags.member.N.Key/Value, TransitiveTagKeys.member.N
// and SourceIdentity of AssumeRole.
func parseSessionParams(p url.Values) (*sessionAttrs, error) {
	a := &sessionAttrs{tags: map[string]string{}}
	var errs []string
	for n := 1; ; n++ {
		kp, vp := fmt.Sprintf("Tags.member.%d.Key", n), fmt.Sprintf("Tags.member.%d.Value", n)
		if !p.Has(kp) && !p.Has(vp) {
			break
		}
		k, v := p.Get(kp), p.Get(vp)
		field := fmt.Sprintf("tags.%d.member.key", n)
		switch {
		case !p.Has(kp):
			errs = append(errs, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", field))
		case len(k) < 1 || len(k) > maxTagKeyLen:
			errs = append(errs, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", k, field, maxTagKeyLen))
		case !tagKeyRe.MatchString(k):
			errs = append(errs, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", k, field, tagKeyPattern))
		}
		vfield := fmt.Sprintf("tags.%d.member.value", n)
		switch {
		case !p.Has(vp):
			errs = append(errs, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", vfield))
		case len(v) > maxTagValueLen:
			errs = append(errs, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", v, vfield, maxTagValueLen))
		case !tagValueRe.MatchString(v):
			errs = append(errs, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", v, vfield, tagValuePattern))
		}
		// Tag keys are case-insensitive: two keys differing in case collide.
		for _, old := range a.tagKeys {
			if strings.EqualFold(old, k) {
				return nil, awsInvalidParameter("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
			}
		}
		a.tags[k] = v
		a.tagKeys = append(a.tagKeys, k)
	}
	if len(a.tagKeys) > maxSessionTags {
		errs = append(errs, fmt.Sprintf("Value '%v' at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", a.tagKeys, maxSessionTags))
	}
	for n := 1; ; n++ {
		k := fmt.Sprintf("TransitiveTagKeys.member.%d", n)
		if !p.Has(k) {
			break
		}
		a.transitive = append(a.transitive, p.Get(k))
	}
	if p.Has("SourceIdentity") {
		a.sourceIdentity = p.Get("SourceIdentity")
		if msg := checkSourceIdentity(a.sourceIdentity); msg != "" {
			errs = append(errs, msg)
		}
	}
	if len(errs) > 0 {
		return nil, validation("%d validation error%s detected: %s", len(errs), plural(len(errs)), strings.Join(errs, "; "))
	}
	for _, k := range a.transitive {
		if !slices.ContainsFunc(a.tagKeys, func(t string) bool { return strings.EqualFold(t, k) }) {
			return nil, awsInvalidParameter("The specified transitive tag key must be included in the requested tags.")
		}
	}
	return a, nil
}

func checkSourceIdentity(s string) string {
	switch {
	case len(s) < minSourceIDLen || len(s) > maxSourceIDLen:
		return fmt.Sprintf("Value '%s' at 'sourceIdentity' failed to satisfy constraint: Member must have length between %d and %d", s, minSourceIDLen, maxSourceIDLen)
	case !sourceIDRe.MatchString(s):
		return fmt.Sprintf("Value '%s' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", s, sourceIDPattern)
	case strings.HasPrefix(strings.ToLower(s), "aws:"):
		return fmt.Sprintf("Value '%s' at 'sourceIdentity' failed to satisfy constraint: Member must not begin with aws:", s)
	}
	return ""
}

// tokenSessionAttrs reads session tags and source identity from the
// https://aws.amazon.com/tags and https://aws.amazon.com/source_identity
// claims of a web identity token, as AWS does.
func tokenSessionAttrs(raw map[string]any) (*sessionAttrs, error) {
	a := &sessionAttrs{tags: map[string]string{}}
	bad := func(what string) error {
		return invalidToken("The " + what + " in the web identity token is not valid.")
	}
	if v, ok := raw[awsTagsClaim]; ok {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, bad("session tag claim")
		}
		if pt, ok := m["principal_tags"]; ok {
			tags, ok := pt.(map[string]any)
			if !ok {
				return nil, bad("principal_tags claim")
			}
			keys := make([]string, 0, len(tags))
			for k := range tags {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				// Each tag is a one-element array of strings.
				vals, ok := tags[k].([]any)
				if !ok || len(vals) != 1 {
					return nil, bad("principal_tags claim")
				}
				s, ok := vals[0].(string)
				if !ok || len(k) > maxTagKeyLen || !tagKeyRe.MatchString(k) || len(s) > maxTagValueLen || !tagValueRe.MatchString(s) {
					return nil, bad("principal_tags claim")
				}
				a.tags[k] = s
				a.tagKeys = append(a.tagKeys, k)
			}
			if len(a.tagKeys) > maxSessionTags {
				return nil, bad("principal_tags claim")
			}
		}
		if tt, ok := m["transitive_tag_keys"]; ok {
			keys, ok := tt.([]any)
			if !ok {
				return nil, bad("transitive_tag_keys claim")
			}
			for _, k := range keys {
				s, ok := k.(string)
				if !ok || a.tags[s] == "" && !slices.Contains(a.tagKeys, s) {
					return nil, bad("transitive_tag_keys claim")
				}
				a.transitive = append(a.transitive, s)
			}
		}
	}
	if v, ok := raw[awsSourceIDClaim]; ok {
		s, ok := v.(string)
		if !ok || checkSourceIdentity(s) != "" {
			return nil, bad("source identity claim")
		}
		a.sourceIdentity = s
	}
	return a, nil
}
