package awssts

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/awsxml"
)

// chainLimit caps sessions made from role sessions (role chaining).
const chainLimit = time.Hour

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

func (h *Handler) assumeRole(ctx context.Context, caller awsiam.Principal, p url.Values, reqID string) (any, error) {
	c, err := h.parseCommon(p, "AssumeRole")
	if err != nil {
		return nil, err
	}
	if p.Get("SerialNumber") != "" || p.Get("TokenCode") != "" {
		return nil, awsxml.Errorf(403, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")
	}
	cond := map[string][]string{}
	if ext := p.Get("ExternalId"); ext != "" {
		if len(ext) < 2 || len(ext) > 1224 || !externalIDRe.MatchString(ext) {
			return nil, validation("1 validation error detected: Value '%s' at 'externalId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*", ext)
		}
		cond["sts:ExternalId"] = []string{ext}
	}
	if si := p.Get("SourceIdentity"); si != "" {
		cond["sts:SourceIdentity"] = []string{si}
	}
	tags := map[string]string{}
	for n := 1; ; n++ {
		k := p.Get(fmt.Sprintf("Tags.member.%d.Key", n))
		if k == "" {
			break
		}
		tags[k] = p.Get(fmt.Sprintf("Tags.member.%d.Value", n))
		cond["aws:RequestTag/"+k] = []string{tags[k]}
		cond["aws:TagKeys"] = append(cond["aws:TagKeys"], k)
	}
	chained := caller.Type == awsiam.PrincipalAssumedRole
	if chained && c.duration > chainLimit {
		return nil, validation("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	denied := awsxml.Errorf(403, "AccessDenied", "User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, c.roleARN)
	if c.role == nil {
		return nil, denied
	}
	authorize := func(action string) bool {
		return h.iam.Authorize(ctx, awsiam.Request{
			Principal: caller, Action: action, Resource: c.role.ARN, ResourceAccount: c.role.Account,
			ResourcePolicy: c.role.TrustPolicy, ResourcePolicyName: "trust policy of " + c.role.ARN,
			Context: cond, RequestID: reqID,
		}).Allowed()
	}
	if !authorize("sts:AssumeRole") {
		return nil, denied
	}
	if len(tags) > 0 && !authorize("sts:TagSession") {
		return nil, awsxml.Errorf(403, "AccessDenied", "User: %s is not authorized to perform: sts:TagSession on resource: %s", caller.ARN, c.roleARN)
	}
	s, err := h.issue(c, awsiam.Principal{Chained: chained, Tags: tags, SourceIdentity: p.Get("SourceIdentity")})
	if err != nil {
		return nil, err
	}
	return assumeRoleResponse{Xmlns: Namespace, Meta: awsxml.ResponseMetadata{RequestID: reqID}, Result: assumeRoleResult{
		Credentials:     credsXML(s),
		AssumedRoleUser: assumedRoleUser{AssumedRoleID: s.Principal.UserID, Arn: s.Principal.ARN},
		SourceIdentity:  s.Principal.SourceIdentity,
	}}, nil
}
