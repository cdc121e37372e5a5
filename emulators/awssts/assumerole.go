package awssts

import (
	"context"
	"encoding/xml"
	"net/url"
	"regexp"
	"slices"
	"time"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/awsxml"
)

// chainLimit caps sessions made from role sessions (role chaining), and
// msgChainLimit is AWS's refusal of a longer DurationSeconds.
const (
	chainLimit    = time.Hour
	msgChainLimit = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
)

var externalIDRe = regexp.MustCompile(`^[\w+=,.@:/-]+$`)

type assumeRoleResponse struct {
	XMLName xml.Name                `xml:"AssumeRoleResponse"`
	Xmlns   string                  `xml:"xmlns,attr"`
	Result  assumeRoleResult        `xml:"AssumeRoleResult"`
	Meta    awsxml.ResponseMetadata `xml:"ResponseMetadata"`
}

type assumeRoleResult struct {
	Credentials     credentialsXML  `xml:"Credentials"`
	AssumedRoleUser assumedRoleUser `xml:"AssumedRoleUser"`
	SourceIdentity  string          `xml:"SourceIdentity,omitempty"`
}

func (h *Handler) assumeRole(ctx context.Context, caller awsiam.Principal, callerKey string, p url.Values, reqID string) (any, error) {
	c, err := h.parseCommon(p, "AssumeRole")
	if err != nil {
		return nil, err
	}
	if p.Get("SerialNumber") != "" || p.Get("TokenCode") != "" {
		return nil, awsxml.Errorf(403, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")
	}
	cond := map[string][]string{}
	if ext := p.Get("ExternalId"); p.Has("ExternalId") {
		if len(ext) < 2 || len(ext) > 1224 {
			return nil, validation("1 validation error detected: Value '%s' at 'externalId' failed to satisfy constraint: Member must have length between 2 and 1224", ext)
		}
		if !externalIDRe.MatchString(ext) {
			return nil, validation("1 validation error detected: Value '%s' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*", ext)
		}
		cond["sts:ExternalId"] = []string{ext}
	}
	attrs, err := parseSessionParams(p)
	if err != nil {
		return nil, err
	}
	// The trust policy sees the requested tags; inherited transitive tags are
	// the caller's aws:PrincipalTag values instead.
	attrs.condition(cond)
	requestedTags := len(attrs.tagKeys) > 0
	// Role chaining: transitive session tags and the source identity of the
	// calling session carry over and cannot be changed.
	if caller.Type == awsiam.PrincipalAssumedRole {
		for _, k := range h.transitiveKeys(callerKey) {
			v, ok := caller.Tags[k]
			if !ok {
				continue
			}
			if old, set := attrs.tags[k]; set && old != v {
				return nil, awsInvalidParameter("One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.")
			}
			if _, set := attrs.tags[k]; !set {
				attrs.tags[k] = v
				attrs.tagKeys = append(attrs.tagKeys, k)
			}
			if !slices.Contains(attrs.transitive, k) {
				attrs.transitive = append(attrs.transitive, k)
			}
		}
		if caller.SourceIdentity != "" {
			if attrs.sourceIdentity != "" && attrs.sourceIdentity != caller.SourceIdentity {
				return nil, awsxml.Errorf(403, "AccessDenied", "User: %s is not authorized to perform: sts:SetSourceIdentity on resource: %s because the source identity of the session cannot be changed", caller.ARN, c.roleARN)
			}
			attrs.sourceIdentity = caller.SourceIdentity
			cond["sts:SourceIdentity"] = []string{caller.SourceIdentity}
		}
	}
	tags := attrs.tags
	chained := caller.Type == awsiam.PrincipalAssumedRole
	if chained && c.duration > chainLimit {
		// Logged beside the policy decisions, so a refused chain shows in
		// the decision log as a refused web identity token does.
		h.iam.RecordRejection(ctx, caller.ARN, "sts:AssumeRole", c.roleARN, "ValidationError", msgChainLimit, reqID)
		return nil, validation("%s", msgChainLimit)
	}
	denied := awsxml.Errorf(403, "AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, c.roleARN)
	if c.role == nil {
		return nil, denied
	}
	trustName := "trust policy of " + c.role.ARN
	authorize := func(action string) bool {
		d := h.iam.Authorize(ctx, awsiam.Request{
			Principal: caller, Action: action, Resource: c.role.ARN, ResourceAccount: c.role.Account,
			ResourcePolicy: c.role.TrustPolicy, ResourcePolicyName: trustName,
			Context: cond, RequestID: reqID,
		})
		// A role's trust policy must always allow, even in the role's own
		// account where an identity policy alone would do for other
		// resources. awsiam.Authorize allows same-account calls on identity
		// policies alone, so require a trust policy statement among the
		// statements that allowed.
		if d.Allowed() && !slices.ContainsFunc(d.Matched, func(m awsiam.MatchedStatement) bool { return m.Policy == trustName }) {
			h.log.Info("sts deny", "decision", "ImplicitDeny", "principal", caller.ARN, "action", action, "resource", c.role.ARN,
				"reason", "the trust policy of the role does not allow this principal (identity policies alone cannot assume a role)", "request_id", reqID)
			return false
		}
		return d.Allowed()
	}
	if !authorize("sts:AssumeRole") {
		return nil, denied
	}
	if requestedTags && !authorize("sts:TagSession") {
		return nil, awsxml.Errorf(403, "AccessDenied", "User: %s is not authorized to perform: sts:TagSession on resource: %s", caller.ARN, c.roleARN)
	}
	if p.Get("SourceIdentity") != "" && !authorize("sts:SetSourceIdentity") {
		return nil, awsxml.Errorf(403, "AccessDenied", "User: %s is not authorized to perform: sts:SetSourceIdentity on resource: %s", caller.ARN, c.roleARN)
	}
	if len(tags) == 0 {
		tags = nil
	}
	s, err := h.issue(c, awsiam.Principal{Chained: chained, Tags: tags, SourceIdentity: attrs.sourceIdentity})
	if err != nil {
		return nil, err
	}
	h.rememberTransitive(s.Credentials.AccessKeyID, attrs.transitive)
	return assumeRoleResponse{Xmlns: Namespace, Meta: awsxml.ResponseMetadata{RequestID: reqID}, Result: assumeRoleResult{
		Credentials:     credsXML(s),
		AssumedRoleUser: assumedRoleUser{AssumedRoleID: s.Principal.UserID, Arn: s.Principal.ARN},
		SourceIdentity:  s.Principal.SourceIdentity,
	}}, nil
}
