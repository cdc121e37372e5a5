package awsiamapi

import (
	"fmt"
	"sort"
	"strings"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/awsxml"
)

func (c *call) createPolicy() (any, error) {
	name := c.required("PolicyName", policyNameType)
	path, _ := c.str("Path", policyPathType)
	desc, _ := c.str("Description", policyDescription)
	tags := c.tags("Tags")
	doc, err := c.document("PolicyDocument", true)
	if err == nil {
		err = c.check()
	}
	if err != nil {
		return nil, err
	}
	if path == "" {
		path = "/"
	}
	if err := c.authorize("arn:aws:iam::"+c.account()+":policy"+path+name, tagContext(tags)); err != nil {
		return nil, err
	}
	mp, err := c.h.iam.CreatePolicy(c.account(), name, path, desc, doc, tags)
	if err != nil {
		return nil, err
	}
	return struct {
		Policy policyXML `xml:"Policy"`
	}{policyOut(mp, 0, true)}, nil
}

// policy reads PolicyArn (after the other parameters), authorizes the
// action on it and finds it.
func (c *call) policy() (*awsiam.ManagedPolicy, error) {
	arn, err := c.policyARN("PolicyArn")
	if err != nil {
		return nil, err
	}
	if err := c.authorize(arn, nil); err != nil {
		return nil, err
	}
	return c.h.iam.ManagedPolicy(arn)
}

// changeable refuses to change an AWS managed policy, which AWS keeps.
func (c *call) changeable(arn string) error {
	if arnAccount(arn) == awsiam.AWSManaged {
		return awsxml.Errorf(403, "AccessDenied", "User: %s is not authorized to perform: iam:%s on resource: %s because it is an AWS managed policy", c.caller.ARN, c.action, arn)
	}
	return nil
}

func (c *call) getPolicy() (any, error) {
	mp, err := c.policy()
	if err != nil {
		return nil, err
	}
	return struct {
		Policy policyXML `xml:"Policy"`
	}{policyOut(mp, c.h.iam.AttachmentCount(mp.ARN), true)}, nil
}

func (c *call) listPolicies() (any, error) {
	scope, ok := c.enum("Scope", "All", "AWS", "Local")
	if !ok {
		scope = "All"
	}
	onlyAttached := c.boolean("OnlyAttached")
	prefix, ok := c.str("PathPrefix", policyPathType)
	if !ok {
		prefix = "/"
	}
	usage, _ := c.enum("PolicyUsageFilter", "PermissionsPolicy", "PermissionsBoundary")
	c.paging()
	if err := c.check(); err != nil {
		return nil, err
	}
	if err := c.authorize("arn:aws:iam::"+c.account()+":policy"+prefix, nil); err != nil {
		return nil, err
	}
	var all []awsiam.ManagedPolicy
	if usage != "PermissionsBoundary" { // idlab has no boundaries: none is used as one
		if scope != "Local" {
			all = append(all, c.h.iam.ListPolicies(awsiam.AWSManaged, prefix, onlyAttached)...)
		}
		if scope != "AWS" {
			all = append(all, c.h.iam.ListPolicies(c.account(), prefix, onlyAttached)...)
		}
	}
	sort.Slice(all, func(a, b int) bool { return all[a].ARN < all[b].ARN })
	items, truncated, marker, err := page(c, all, func(p awsiam.ManagedPolicy) string { return p.ARN })
	if err != nil {
		return nil, err
	}
	out := list[policyXML]{}
	for _, p := range items {
		out = append(out, policyOut(&p, c.h.iam.AttachmentCount(p.ARN), false))
	}
	return struct {
		Policies list[policyXML] `xml:"Policies"`
		pageXML
	}{out, pageXML{truncated, marker}}, nil
}

func (c *call) deletePolicy() (any, error) {
	mp, err := c.policy()
	if err != nil {
		return nil, err
	}
	if err := c.changeable(mp.ARN); err != nil {
		return nil, err
	}
	return nil, c.h.iam.DeletePolicy(mp.ARN)
}

func (c *call) createPolicyVersion() (any, error) {
	setDefault := c.boolean("SetAsDefault")
	doc, err := c.document("PolicyDocument", true)
	if err != nil {
		return nil, err
	}
	arn, err := c.policyARN("PolicyArn")
	if err != nil {
		return nil, err
	}
	if err := c.authorize(arn, nil); err != nil {
		return nil, err
	}
	if err := c.changeable(arn); err != nil {
		return nil, err
	}
	v, err := c.h.iam.CreatePolicyVersion(arn, doc, setDefault)
	if err != nil {
		return nil, err
	}
	return struct {
		PolicyVersion policyVersionXML `xml:"PolicyVersion"`
	}{versionOut(v, setDefault, false)}, nil
}

func (c *call) getPolicyVersion() (any, error) {
	id := c.required("VersionId", policyVersionIDType)
	mp, err := c.policy()
	if err != nil {
		return nil, err
	}
	v, isDefault, err := c.h.iam.PolicyVersion(mp.ARN, id)
	if err != nil {
		return nil, err
	}
	return struct {
		PolicyVersion policyVersionXML `xml:"PolicyVersion"`
	}{versionOut(v, isDefault, true)}, nil
}

func (c *call) listPolicyVersions() (any, error) {
	c.paging()
	mp, err := c.policy()
	if err != nil {
		return nil, err
	}
	// Newest first, as IAM lists them; the key is the zero-padded
	// position in that order.
	var all []policyVersionXML
	for k := len(mp.Versions) - 1; k >= 0; k-- {
		v := mp.Versions[k]
		all = append(all, versionOut(v, v.ID == mp.DefaultVersionID, false))
	}
	pos := map[string]string{}
	for k, v := range all {
		pos[v.VersionID] = fmt.Sprintf("%04d", k)
	}
	items, truncated, marker, err := page(c, all, func(v policyVersionXML) string { return pos[v.VersionID] })
	if err != nil {
		return nil, err
	}
	return struct {
		Versions list[policyVersionXML] `xml:"Versions"`
		pageXML
	}{list[policyVersionXML](items), pageXML{truncated, marker}}, nil
}

func (c *call) deletePolicyVersion() (any, error) {
	id := c.required("VersionId", policyVersionIDType)
	mp, err := c.policy()
	if err != nil {
		return nil, err
	}
	if err := c.changeable(mp.ARN); err != nil {
		return nil, err
	}
	return nil, c.h.iam.DeletePolicyVersion(mp.ARN, id)
}

// providerARN reads OpenIDConnectProviderArn (after the other
// parameters) and authorizes the action on it.
func (c *call) providerARN() (string, error) {
	arn := c.required("OpenIDConnectProviderArn", arnType)
	if err := c.check(); err != nil {
		return "", err
	}
	if !strings.HasPrefix(arn, "arn:aws:iam::") || !strings.Contains(arn, ":oidc-provider/") {
		return "", awsxml.Errorf(400, "InvalidInput", "ARN %s is not valid.", arn)
	}
	return arn, c.authorize(arn, nil)
}

func (c *call) createOIDCProvider() (any, error) {
	u := c.required("Url", oidcURLType)
	clientIDs := c.list("ClientIDList", clientIDType)
	thumbprints := c.list("ThumbprintList", thumbprintType)
	tags := c.tags("Tags")
	if err := c.check(); err != nil {
		return nil, err
	}
	host := strings.TrimPrefix(u, "https://")
	if err := c.authorize("arn:aws:iam::"+c.account()+":oidc-provider/"+host, tagContext(tags)); err != nil {
		return nil, err
	}
	p, err := c.h.iam.CreateOIDCProvider(awsiam.OIDCProvider{Account: c.account(), URL: u, ClientIDs: clientIDs, Thumbprints: thumbprints, Tags: tags})
	if err != nil {
		return nil, err
	}
	return struct {
		OpenIDConnectProviderArn string        `xml:"OpenIDConnectProviderArn"`
		Tags                     *list[tagXML] `xml:"Tags,omitempty"`
	}{p.ARN, tagList(p.Tags)}, nil
}

func (c *call) getOIDCProvider() (any, error) {
	arn, err := c.providerARN()
	if err != nil {
		return nil, err
	}
	p, err := c.h.iam.OIDCProviderByARN(arn)
	if err != nil {
		return nil, err
	}
	return struct {
		URL            string        `xml:"Url"`
		ClientIDList   list[string]  `xml:"ClientIDList"`
		ThumbprintList list[string]  `xml:"ThumbprintList"`
		CreateDate     string        `xml:"CreateDate"`
		Tags           *list[tagXML] `xml:"Tags,omitempty"`
	}{p.URL, list[string](p.ClientIDs), list[string](p.Thumbprints), isoTime(p.CreateDate), tagList(p.Tags)}, nil
}

func (c *call) listOIDCProviders() (any, error) {
	if err := c.authorize("*", nil); err != nil {
		return nil, err
	}
	type entry struct {
		Arn string `xml:"Arn"`
	}
	out := list[entry]{}
	for _, p := range c.h.iam.ListOIDCProviders(c.account()) {
		out = append(out, entry{p.ARN})
	}
	return struct {
		OpenIDConnectProviderList list[entry] `xml:"OpenIDConnectProviderList"`
	}{out}, nil
}

func (c *call) deleteOIDCProvider() (any, error) {
	arn, err := c.providerARN()
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.DeleteOIDCProvider(arn)
}

func (c *call) addClientID() (any, error) {
	id := c.required("ClientID", clientIDType)
	arn, err := c.providerARN()
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.AddClientIDToOIDCProvider(arn, id)
}

func (c *call) removeClientID() (any, error) {
	id := c.required("ClientID", clientIDType)
	arn, err := c.providerARN()
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.RemoveClientIDFromOIDCProvider(arn, id)
}

func (c *call) updateThumbprint() (any, error) {
	thumbprints := c.list("ThumbprintList", thumbprintType)
	if !c.p.Has("ThumbprintList") && len(thumbprints) == 0 {
		c.invalid("Value null at 'thumbprintList' failed to satisfy constraint: Member must not be null")
	}
	arn, err := c.providerARN()
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.UpdateOIDCProviderThumbprint(arn, thumbprints)
}
