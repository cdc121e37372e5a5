package awsiamapi

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/awsxml"
	"github.com/idlab/idlab/internal/lazyre"
)

// operations are the actions the API serves.
var operations = map[string]func(*call) (any, error){
	"CreateRole":               (*call).createRole,
	"GetRole":                  (*call).getRole,
	"ListRoles":                (*call).listRoles,
	"UpdateRole":               (*call).updateRole,
	"DeleteRole":               (*call).deleteRole,
	"UpdateAssumeRolePolicy":   (*call).updateAssumeRolePolicy,
	"TagRole":                  (*call).tagRole,
	"UntagRole":                (*call).untagRole,
	"ListRoleTags":             (*call).listRoleTags,
	"PutRolePolicy":            (*call).putRolePolicy,
	"GetRolePolicy":            (*call).getRolePolicy,
	"DeleteRolePolicy":         (*call).deleteRolePolicy,
	"ListRolePolicies":         (*call).listRolePolicies,
	"AttachRolePolicy":         (*call).attachRolePolicy,
	"DetachRolePolicy":         (*call).detachRolePolicy,
	"ListAttachedRolePolicies": (*call).listAttachedRolePolicies,

	"CreateUser":               (*call).createUser,
	"GetUser":                  (*call).getUser,
	"DeleteUser":               (*call).deleteUser,
	"PutUserPolicy":            (*call).putUserPolicy,
	"GetUserPolicy":            (*call).getUserPolicy,
	"DeleteUserPolicy":         (*call).deleteUserPolicy,
	"ListUserPolicies":         (*call).listUserPolicies,
	"AttachUserPolicy":         (*call).attachUserPolicy,
	"DetachUserPolicy":         (*call).detachUserPolicy,
	"ListAttachedUserPolicies": (*call).listAttachedUserPolicies,
	"CreateAccessKey":          (*call).createAccessKey,
	"UpdateAccessKey":          (*call).updateAccessKey,
	"DeleteAccessKey":          (*call).deleteAccessKey,
	"ListAccessKeys":           (*call).listAccessKeys,

	"CreatePolicy":        (*call).createPolicy,
	"GetPolicy":           (*call).getPolicy,
	"ListPolicies":        (*call).listPolicies,
	"DeletePolicy":        (*call).deletePolicy,
	"CreatePolicyVersion": (*call).createPolicyVersion,
	"GetPolicyVersion":    (*call).getPolicyVersion,
	"ListPolicyVersions":  (*call).listPolicyVersions,
	"DeletePolicyVersion": (*call).deletePolicyVersion,

	"CreateOpenIDConnectProvider":             (*call).createOIDCProvider,
	"GetOpenIDConnectProvider":                (*call).getOIDCProvider,
	"ListOpenIDConnectProviders":              (*call).listOIDCProviders,
	"DeleteOpenIDConnectProvider":             (*call).deleteOIDCProvider,
	"AddClientIDToOpenIDConnectProvider":      (*call).addClientID,
	"RemoveClientIDFromOpenIDConnectProvider": (*call).removeClientID,
	"UpdateOpenIDConnectProviderThumbprint":   (*call).updateThumbprint,

	"SimulatePrincipalPolicy": (*call).simulatePrincipalPolicy,
	"SimulateCustomPolicy":    (*call).simulateCustomPolicy,
}

// Actions lists the actions the API serves, sorted: the router's list
// of IAM actions.
func Actions() []string { return slices.Sorted(maps.Keys(operations)) }

// tagContext is the request's tag condition keys (aws:RequestTag/KEY,
// aws:TagKeys) for actions that tag.
func tagContext(tags map[string]string) map[string][]string {
	if len(tags) == 0 {
		return nil
	}
	ctx := map[string][]string{"aws:TagKeys": slices.Sorted(maps.Keys(tags))}
	for k, v := range tags {
		ctx["aws:RequestTag/"+k] = []string{v}
	}
	return ctx
}

// noBoundary refuses a permissions boundary: idlab's evaluation has none,
// and ignoring one would allow what AWS denies.
func noBoundary(given bool) error {
	if given {
		return awsxml.Errorf(400, "InvalidInput", "idlab does not evaluate permissions boundaries; create the entity without PermissionsBoundary")
	}
	return nil
}

func (c *call) createRole() (any, error) {
	name := c.required("RoleName", roleNameType)
	path, _ := c.str("Path", pathType)
	desc, _ := c.str("Description", roleDescriptionType)
	maxSession, _ := c.integer("MaxSessionDuration", 3600, 43200)
	tags := c.tags("Tags")
	_, boundary := c.str("PermissionsBoundary", arnType)
	doc, err := c.document("AssumeRolePolicyDocument", true)
	if err == nil {
		err = c.check()
	}
	if err != nil {
		return nil, err
	}
	if err := c.authorize(c.roleARN(name, path), tagContext(tags)); err != nil {
		return nil, err
	}
	if err := noBoundary(boundary); err != nil {
		return nil, err
	}
	r, err := c.h.iam.CreateRole(awsiam.Role{Account: c.account(), Name: name, Path: path, Description: desc, TrustPolicy: doc,
		MaxSessionDuration: time.Duration(maxSession) * time.Second, Tags: tags})
	if err != nil {
		return nil, err
	}
	return struct {
		Role roleXML `xml:"Role"`
	}{roleOut(r, true)}, nil
}

// role reads RoleName, authorizes the action on the role and finds it.
func (c *call) role(context map[string][]string) (*awsiam.Role, error) {
	name := c.required("RoleName", roleNameType)
	if err := c.check(); err != nil {
		return nil, err
	}
	if err := c.authorizeAs(c.roleARN(name, ""), "role "+name, context); err != nil {
		return nil, err
	}
	return c.h.iam.GetRole(c.account(), name)
}

// roleName reads RoleName (after every other parameter, so that one
// ValidationError names them all) and authorizes the action on the role.
func (c *call) roleName(context map[string][]string) (string, error) {
	name := c.required("RoleName", roleNameType)
	if err := c.check(); err != nil {
		return "", err
	}
	return name, c.authorizeAs(c.roleARN(name, ""), "role "+name, context)
}

func (c *call) getRole() (any, error) {
	r, err := c.role(nil)
	if err != nil {
		return nil, err
	}
	return struct {
		Role roleXML `xml:"Role"`
	}{roleOut(r, true)}, nil
}

func (c *call) listRoles() (any, error) {
	prefix, ok := c.str("PathPrefix", pathPrefixType)
	if !ok {
		prefix = "/"
	}
	c.paging()
	if err := c.check(); err != nil {
		return nil, err
	}
	if err := c.authorize("arn:aws:iam::"+c.account()+":role"+prefix, nil); err != nil {
		return nil, err
	}
	roles, truncated, marker, err := page(c, c.h.iam.ListRoles(c.account(), prefix), func(r awsiam.Role) string { return strings.ToLower(r.Name) })
	if err != nil {
		return nil, err
	}
	out := list[roleXML]{}
	for _, r := range roles {
		out = append(out, roleOut(&r, false))
	}
	return struct {
		Roles list[roleXML] `xml:"Roles"`
		pageXML
	}{out, pageXML{truncated, marker}}, nil
}

func (c *call) updateRole() (any, error) {
	desc, hasDesc := c.str("Description", roleDescriptionType)
	maxSession, _ := c.integer("MaxSessionDuration", 3600, 43200)
	name, err := c.roleName(nil)
	if err != nil {
		return nil, err
	}
	var d *string
	if hasDesc {
		d = &desc
	}
	if err := c.h.iam.UpdateRole(c.account(), name, d, time.Duration(maxSession)*time.Second); err != nil {
		return nil, err
	}
	return struct{}{}, nil // an empty <UpdateRoleResult/>: the model gives UpdateRole an output
}

func (c *call) deleteRole() (any, error) {
	name, err := c.roleName(nil)
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.DeleteRole(c.account(), name)
}

func (c *call) updateAssumeRolePolicy() (any, error) {
	doc, err := c.document("PolicyDocument", true)
	if err != nil {
		return nil, err
	}
	name, err := c.roleName(nil)
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.UpdateAssumeRolePolicy(c.account(), name, doc)
}

func (c *call) tagRole() (any, error) {
	tags := c.tags("Tags")
	if tags == nil {
		c.invalid("Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	name, err := c.roleName(tagContext(tags))
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.TagRole(c.account(), name, tags)
}

// tagKeys reads TagKeys.member.N, which must be given.
func (c *call) tagKeys() []string {
	keys := c.list("TagKeys", tagKeyType)
	if len(keys) == 0 {
		c.invalid("Value null at 'tagKeys' failed to satisfy constraint: Member must not be null")
	}
	if len(keys) > awsiam.MaxTagsPerEntity {
		c.invalid("Value '%d' at 'tagKeys' failed to satisfy constraint: Member must have length less than or equal to %d", len(keys), awsiam.MaxTagsPerEntity)
	}
	return keys
}

func (c *call) untagRole() (any, error) {
	keys := c.tagKeys()
	name, err := c.roleName(map[string][]string{"aws:TagKeys": keys})
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.UntagRole(c.account(), name, keys)
}

// tagsPage is one page of an entity's tags, sorted by key.
func tagsPage(c *call, tags map[string]string) (any, error) {
	var all []tagXML
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		all = append(all, tagXML{k, tags[k]})
	}
	items, truncated, marker, err := page(c, all, func(t tagXML) string { return t.Key })
	if err != nil {
		return nil, err
	}
	return struct {
		Tags list[tagXML] `xml:"Tags"`
		pageXML
	}{list[tagXML](items), pageXML{truncated, marker}}, nil
}

func (c *call) listRoleTags() (any, error) {
	c.paging()
	r, err := c.role(nil)
	if err != nil {
		return nil, err
	}
	return tagsPage(c, r.Tags)
}

func (c *call) putRolePolicy() (any, error) {
	policy := c.required("PolicyName", policyNameType)
	doc, err := c.document("PolicyDocument", true)
	if err != nil {
		return nil, err
	}
	name, err := c.roleName(nil)
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.PutRolePolicy(c.account(), name, policy, doc)
}

// inlineResult is GetRolePolicy's and GetUserPolicy's answer.
type inlineResult struct {
	RoleName       string `xml:"RoleName,omitempty"`
	UserName       string `xml:"UserName,omitempty"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

// inlinePolicy finds name among inline (case-sensitively, as IAM keys
// inline policies).
func inlinePolicy(kind, name string, inline map[string]*awsiam.Policy) (*awsiam.Policy, error) {
	p, ok := inline[name]
	if !ok {
		return nil, awsxml.Errorf(404, "NoSuchEntity", "The %s policy with name %s cannot be found.", kind, name)
	}
	return p, nil
}

func (c *call) getRolePolicy() (any, error) {
	policy := c.required("PolicyName", policyNameType)
	r, err := c.role(nil)
	if err != nil {
		return nil, err
	}
	p, err := inlinePolicy("role", policy, r.InlinePolicies)
	if err != nil {
		return nil, err
	}
	return inlineResult{RoleName: r.Name, PolicyName: policy, PolicyDocument: policyEscape(p.Raw)}, nil
}

func (c *call) deleteRolePolicy() (any, error) {
	policy := c.required("PolicyName", policyNameType)
	name, err := c.roleName(nil)
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.DeleteRolePolicy(c.account(), name, policy)
}

// namesPage is one page of inline policy names, sorted.
func namesPage(c *call, inline map[string]*awsiam.Policy) (any, error) {
	names, truncated, marker, err := page(c, slices.Sorted(maps.Keys(inline)), func(s string) string { return s })
	if err != nil {
		return nil, err
	}
	return struct {
		PolicyNames list[string] `xml:"PolicyNames"`
		pageXML
	}{list[string](names), pageXML{truncated, marker}}, nil
}

func (c *call) listRolePolicies() (any, error) {
	c.paging()
	r, err := c.role(nil)
	if err != nil {
		return nil, err
	}
	return namesPage(c, r.InlinePolicies)
}

// policyARNRe is a managed policy's ARN: a 12-digit account or aws, a
// path and a name.
var policyARNRe = lazyre.New(`^arn:aws:iam::([0-9]{12}|aws):policy(/[\x21-\x7e]*)?/[\w+=,.@-]{1,128}$`)

// policyARN reads a managed policy ARN parameter; one that is no policy
// ARN is InvalidInput, as IAM answers it.
func (c *call) policyARN(param string) (string, error) {
	arn := c.required(param, arnType)
	if err := c.check(); err != nil {
		return "", err
	}
	if !policyARNRe.MatchString(arn) {
		return "", awsxml.Errorf(400, "InvalidInput", "ARN %s is not valid.", arn)
	}
	return arn, nil
}

func (c *call) attachRolePolicy() (any, error) { return c.rolePolicyARN(c.h.iam.AttachRolePolicy) }
func (c *call) detachRolePolicy() (any, error) { return c.rolePolicyARN(c.h.iam.DetachRolePolicy) }

// rolePolicyARN reads PolicyArn and RoleName, authorizes the action on
// the role with iam:PolicyARN, and does it.
func (c *call) rolePolicyARN(do func(account, role, arn string) error) (any, error) {
	arn, err := c.policyARN("PolicyArn")
	if err != nil {
		return nil, err
	}
	name, err := c.roleName(map[string][]string{"iam:PolicyARN": {arn}})
	if err != nil {
		return nil, err
	}
	return nil, do(c.account(), name, arn)
}

// attachedPage is one page of attached policies under PathPrefix, sorted
// by ARN.
func attachedPage(c *call, prefix string, arns []string) (any, error) {
	var all []attachedPolicyXML
	for _, a := range slices.Sorted(slices.Values(arns)) {
		mp, err := c.h.iam.ManagedPolicy(a)
		if err != nil || !strings.HasPrefix(mp.Path, prefix) {
			continue
		}
		all = append(all, attachedPolicyXML{PolicyName: mp.Name, PolicyArn: a})
	}
	items, truncated, marker, err := page(c, all, func(a attachedPolicyXML) string { return a.PolicyArn })
	if err != nil {
		return nil, err
	}
	return struct {
		AttachedPolicies list[attachedPolicyXML] `xml:"AttachedPolicies"`
		pageXML
	}{list[attachedPolicyXML](items), pageXML{truncated, marker}}, nil
}

func (c *call) listAttachedRolePolicies() (any, error) {
	prefix, ok := c.str("PathPrefix", policyPathType)
	if !ok {
		prefix = "/"
	}
	c.paging()
	r, err := c.role(nil)
	if err != nil {
		return nil, err
	}
	return attachedPage(c, prefix, r.ManagedPolicyARNs)
}
