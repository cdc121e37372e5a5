package awsiamapi

import (
	"github.com/idlab/idlab/emulators/awsiam"
)

func (c *call) createUser() (any, error) {
	name := c.required("UserName", userNameType)
	path, _ := c.str("Path", pathType)
	tags := c.tags("Tags")
	_, boundary := c.str("PermissionsBoundary", arnType)
	if err := c.check(); err != nil {
		return nil, err
	}
	if err := c.authorize(c.userARN(name, path), tagContext(tags)); err != nil {
		return nil, err
	}
	if err := noBoundary(boundary); err != nil {
		return nil, err
	}
	u, err := c.h.iam.CreateUser(c.account(), name, path, tags)
	if err != nil {
		return nil, err
	}
	return struct {
		User userXML `xml:"User"`
	}{userOut(u)}, nil
}

// userName reads UserName (after every other parameter), defaulting to
// the calling user where optional, and authorizes the action on the user.
func (c *call) userName(optional bool, context map[string][]string) (string, error) {
	name, ok := c.str("UserName", existingUserNameType)
	if !ok && !optional {
		c.invalid("Value null at 'userName' failed to satisfy constraint: Member must not be null")
	}
	if err := c.check(); err != nil {
		return "", err
	}
	if !ok {
		var err error
		if name, err = c.callerUserName(); err != nil {
			return "", err
		}
	}
	return name, c.authorizeAs(c.userARN(name, ""), "user "+name, context)
}

// user is userName and the user it names.
func (c *call) user(optional bool) (*awsiam.User, error) {
	name, err := c.userName(optional, nil)
	if err != nil {
		return nil, err
	}
	return c.h.iam.GetUser(c.account(), name)
}

func (c *call) getUser() (any, error) {
	u, err := c.user(true)
	if err != nil {
		return nil, err
	}
	return struct {
		User userXML `xml:"User"`
	}{userOut(u)}, nil
}

func (c *call) deleteUser() (any, error) {
	name, err := c.userName(false, nil)
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.DeleteUser(c.account(), name)
}

func (c *call) putUserPolicy() (any, error) {
	policy := c.required("PolicyName", policyNameType)
	doc, err := c.document("PolicyDocument", true)
	if err != nil {
		return nil, err
	}
	name, err := c.userName(false, nil)
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.PutUserPolicy(c.account(), name, policy, doc)
}

func (c *call) getUserPolicy() (any, error) {
	policy := c.required("PolicyName", policyNameType)
	u, err := c.user(false)
	if err != nil {
		return nil, err
	}
	p, err := inlinePolicy("user", policy, u.InlinePolicies)
	if err != nil {
		return nil, err
	}
	return inlineResult{UserName: u.Name, PolicyName: policy, PolicyDocument: policyEscape(p.Raw)}, nil
}

func (c *call) deleteUserPolicy() (any, error) {
	policy := c.required("PolicyName", policyNameType)
	name, err := c.userName(false, nil)
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.DeleteUserPolicy(c.account(), name, policy)
}

func (c *call) listUserPolicies() (any, error) {
	c.paging()
	u, err := c.user(false)
	if err != nil {
		return nil, err
	}
	return namesPage(c, u.InlinePolicies)
}

func (c *call) attachUserPolicy() (any, error) { return c.userPolicyARN(c.h.iam.AttachUserPolicy) }
func (c *call) detachUserPolicy() (any, error) { return c.userPolicyARN(c.h.iam.DetachUserPolicy) }

// userPolicyARN is rolePolicyARN for users.
func (c *call) userPolicyARN(do func(account, user, arn string) error) (any, error) {
	arn, err := c.policyARN("PolicyArn")
	if err != nil {
		return nil, err
	}
	name, err := c.userName(false, map[string][]string{"iam:PolicyARN": {arn}})
	if err != nil {
		return nil, err
	}
	return nil, do(c.account(), name, arn)
}

func (c *call) listAttachedUserPolicies() (any, error) {
	prefix, ok := c.str("PathPrefix", policyPathType)
	if !ok {
		prefix = "/"
	}
	c.paging()
	u, err := c.user(false)
	if err != nil {
		return nil, err
	}
	return attachedPage(c, prefix, u.ManagedPolicyARNs)
}

func (c *call) createAccessKey() (any, error) {
	name, err := c.userName(true, nil)
	if err != nil {
		return nil, err
	}
	creds, info, err := c.h.iam.CreateUserAccessKey(c.account(), name)
	if err != nil {
		return nil, err
	}
	return struct {
		AccessKey accessKeyXML `xml:"AccessKey"`
	}{accessKeyXML{UserName: info.UserName, AccessKeyID: info.AccessKeyID, Status: keyStatus(info.Active),
		SecretAccessKey: creds.SecretAccessKey, CreateDate: isoTime(info.CreateDate)}}, nil
}

func (c *call) updateAccessKey() (any, error) {
	id := c.required("AccessKeyId", accessKeyIDType)
	status, ok := c.enum("Status", "Active", "Inactive")
	if !ok {
		c.invalid("Value null at 'status' failed to satisfy constraint: Member must not be null")
	}
	name, err := c.userName(true, nil)
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.UpdateAccessKey(c.account(), name, id, status == "Active")
}

func (c *call) deleteAccessKey() (any, error) {
	id := c.required("AccessKeyId", accessKeyIDType)
	name, err := c.userName(true, nil)
	if err != nil {
		return nil, err
	}
	return nil, c.h.iam.DeleteAccessKey(c.account(), name, id)
}

func (c *call) listAccessKeys() (any, error) {
	c.paging()
	name, err := c.userName(true, nil)
	if err != nil {
		return nil, err
	}
	keys, err := c.h.iam.ListAccessKeys(c.account(), name)
	if err != nil {
		return nil, err
	}
	items, truncated, marker, err := page(c, keys, func(k awsiam.AccessKeyInfo) string { return k.AccessKeyID })
	if err != nil {
		return nil, err
	}
	out := list[accessKeyXML]{}
	for _, k := range items {
		out = append(out, accessKeyXML{UserName: k.UserName, AccessKeyID: k.AccessKeyID, Status: keyStatus(k.Active), CreateDate: isoTime(k.CreateDate)})
	}
	return struct {
		AccessKeyMetadata list[accessKeyXML] `xml:"AccessKeyMetadata"`
		pageXML
	}{out, pageXML{truncated, marker}}, nil
}
