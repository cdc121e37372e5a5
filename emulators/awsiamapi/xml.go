package awsiamapi

import (
	"encoding/xml"
	"maps"
	"slices"

	"github.com/idlab/idlab/emulators/awsiam"
)

// list is a query-protocol list: the element, present even when empty
// (as IAM sends <Roles/>), holding one <member> per item.
type list[T any] []T

// MarshalXML writes the element and its members.
func (l list[T]) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, v := range l {
		if err := e.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: "member"}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

type tagXML struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// tagList is tags sorted by key; nil (no element) when there are none.
func tagList(tags map[string]string) *list[tagXML] {
	if len(tags) == 0 {
		return nil
	}
	l := list[tagXML]{}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		l = append(l, tagXML{k, tags[k]})
	}
	return &l
}

type roleLastUsedXML struct{}

type roleXML struct {
	Path                     string           `xml:"Path"`
	RoleName                 string           `xml:"RoleName"`
	RoleID                   string           `xml:"RoleId"`
	Arn                      string           `xml:"Arn"`
	CreateDate               string           `xml:"CreateDate"`
	AssumeRolePolicyDocument string           `xml:"AssumeRolePolicyDocument,omitempty"`
	Description              string           `xml:"Description,omitempty"`
	MaxSessionDuration       int              `xml:"MaxSessionDuration,omitempty"`
	Tags                     *list[tagXML]    `xml:"Tags,omitempty"`
	RoleLastUsed             *roleLastUsedXML `xml:"RoleLastUsed,omitempty"`
}

// roleOut is a role as CreateRole and GetRole answer it; ListRoles leaves
// out the tags and RoleLastUsed, as IAM does.
func roleOut(r *awsiam.Role, full bool) roleXML {
	x := roleXML{Path: r.Path, RoleName: r.Name, RoleID: r.RoleID, Arn: r.ARN, CreateDate: isoTime(r.CreateDate),
		AssumeRolePolicyDocument: policyEscape(r.TrustPolicy.Raw), Description: r.Description,
		MaxSessionDuration: int(r.MaxSessionDuration.Seconds())}
	if full {
		x.Tags = tagList(r.Tags)
		x.RoleLastUsed = &roleLastUsedXML{}
	}
	return x
}

type userXML struct {
	Path       string        `xml:"Path"`
	UserName   string        `xml:"UserName"`
	UserID     string        `xml:"UserId"`
	Arn        string        `xml:"Arn"`
	CreateDate string        `xml:"CreateDate"`
	Tags       *list[tagXML] `xml:"Tags,omitempty"`
}

func userOut(u *awsiam.User) userXML {
	return userXML{Path: u.Path, UserName: u.Name, UserID: u.UserID, Arn: u.ARN, CreateDate: isoTime(u.CreateDate), Tags: tagList(u.Tags)}
}

type policyXML struct {
	PolicyName                    string        `xml:"PolicyName"`
	PolicyID                      string        `xml:"PolicyId"`
	Arn                           string        `xml:"Arn"`
	Path                          string        `xml:"Path"`
	DefaultVersionID              string        `xml:"DefaultVersionId"`
	AttachmentCount               int           `xml:"AttachmentCount"`
	PermissionsBoundaryUsageCount int           `xml:"PermissionsBoundaryUsageCount"`
	IsAttachable                  bool          `xml:"IsAttachable"`
	Description                   string        `xml:"Description,omitempty"`
	CreateDate                    string        `xml:"CreateDate"`
	UpdateDate                    string        `xml:"UpdateDate"`
	Tags                          *list[tagXML] `xml:"Tags,omitempty"`
}

func policyOut(p *awsiam.ManagedPolicy, attachments int, withTags bool) policyXML {
	x := policyXML{PolicyName: p.Name, PolicyID: p.PolicyID, Arn: p.ARN, Path: p.Path, DefaultVersionID: p.DefaultVersionID,
		AttachmentCount: attachments, IsAttachable: true, Description: p.Description, CreateDate: isoTime(p.CreateDate), UpdateDate: isoTime(p.UpdateDate)}
	if withTags {
		x.Tags = tagList(p.Tags)
	}
	return x
}

type policyVersionXML struct {
	Document         string `xml:"Document,omitempty"`
	VersionID        string `xml:"VersionId"`
	IsDefaultVersion bool   `xml:"IsDefaultVersion"`
	CreateDate       string `xml:"CreateDate"`
}

func versionOut(v awsiam.PolicyVersion, isDefault, withDocument bool) policyVersionXML {
	x := policyVersionXML{VersionID: v.ID, IsDefaultVersion: isDefault, CreateDate: isoTime(v.CreateDate)}
	if withDocument {
		x.Document = policyEscape(v.Document.Raw)
	}
	return x
}

type attachedPolicyXML struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

type accessKeyXML struct {
	UserName        string `xml:"UserName"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey,omitempty"`
	CreateDate      string `xml:"CreateDate"`
}

func keyStatus(active bool) string {
	if active {
		return "Active"
	}
	return "Inactive"
}

type positionXML struct {
	Line   int `xml:"Line"`
	Column int `xml:"Column"`
}

type statementXML struct {
	SourcePolicyID   string      `xml:"SourcePolicyId"`
	SourcePolicyType string      `xml:"SourcePolicyType"`
	StartPosition    positionXML `xml:"StartPosition"`
	EndPosition      positionXML `xml:"EndPosition"`
}

type resourceResultXML struct {
	EvalResourceName     string             `xml:"EvalResourceName"`
	EvalResourceDecision string             `xml:"EvalResourceDecision"`
	MatchedStatements    list[statementXML] `xml:"MatchedStatements"`
	MissingContextValues list[string]       `xml:"MissingContextValues"`
}

type evalResultXML struct {
	EvalActionName          string                   `xml:"EvalActionName"`
	EvalResourceName        string                   `xml:"EvalResourceName"`
	EvalDecision            string                   `xml:"EvalDecision"`
	MatchedStatements       list[statementXML]       `xml:"MatchedStatements"`
	MissingContextValues    list[string]             `xml:"MissingContextValues"`
	ResourceSpecificResults *list[resourceResultXML] `xml:"ResourceSpecificResults,omitempty"`
}

// pageXML is the paging tail of every List result.
type pageXML struct {
	IsTruncated bool   `xml:"IsTruncated"`
	Marker      string `xml:"Marker,omitempty"`
}
