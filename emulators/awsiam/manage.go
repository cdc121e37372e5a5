package awsiam

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file holds the changes the IAM API makes (emulators/awsiamapi):
// each one validates, persists the entity it changes (entities.go) and
// swaps it in, under i.wmu. Errors wrap the sentinels with IAM's own
// message after the code ("NoSuchEntity: The role with name x cannot be
// found."), which the API sends as they are.

// IAM quotas the API enforces (IAM's defaults).
const (
	MaxPolicyVersions      = 5
	MaxAccessKeysPerUser   = 2
	MaxAttachedPolicies    = 10
	MaxTagsPerEntity       = 50
	MaxClientIDsPerOIDC    = 100
	MaxThumbprintsPerOIDC  = 5
	maxRoleDescriptionSize = 1000
)

func noSuchRole(name string) error {
	return fmt.Errorf("%w: The role with name %s cannot be found.", ErrNoSuchEntity, name)
}

func noSuchUser(name string) error {
	return fmt.Errorf("%w: The user with name %s cannot be found.", ErrNoSuchEntity, name)
}

func noSuchPolicy(arn string) error {
	return fmt.Errorf("%w: Policy %s was not found.", ErrNoSuchEntity, arn)
}

func noSuchProvider(arn string) error {
	return fmt.Errorf("%w: OpenIDConnect Provider not found for arn %s", ErrNoSuchEntity, arn)
}

func cloneRole(r *Role) Role {
	c := *r
	c.InlinePolicies = maps.Clone(r.InlinePolicies)
	c.ManagedPolicyARNs = slices.Clone(r.ManagedPolicyARNs)
	c.Tags = maps.Clone(r.Tags)
	return c
}

func cloneUser(u *User) User {
	c := *u
	c.InlinePolicies = maps.Clone(u.InlinePolicies)
	c.ManagedPolicyARNs = slices.Clone(u.ManagedPolicyARNs)
	c.Tags = maps.Clone(u.Tags)
	return c
}

func (i *IAM) today() time.Time { return i.now().UTC().Truncate(time.Second) }

// CreateRole creates r (Account, Name, Path, TrustPolicy, Description,
// MaxSessionDuration, Tags; attached and inline policies come after, as
// on AWS) and returns it as stored.
func (i *IAM) CreateRole(r Role) (*Role, error) {
	r.InlinePolicies, r.ManagedPolicyARNs, r.RoleID = nil, nil, ""
	if err := checkRole(&r); err != nil {
		return nil, err
	}
	if err := checkTags(r.Tags); err != nil {
		return nil, err
	}
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	dup := i.findRoleLocked(r.Account, r.Name) != nil
	i.mu.RUnlock()
	if dup {
		return nil, fmt.Errorf("%w: Role with name %s already exists.", ErrEntityAlreadyExists, r.Name)
	}
	r.CreateDate = i.today()
	c := cloneRole(&r)
	if err := i.commit(roleRec(&c), func() { i.knowAccount(c.Account); i.putRoleLocked(&c) }); err != nil {
		return nil, err
	}
	return &r, nil
}

// GetRole finds a role by account and name.
func (i *IAM) GetRole(account, name string) (*Role, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	r := i.findRoleLocked(account, name)
	if r == nil {
		return nil, noSuchRole(name)
	}
	c := *r
	return &c, nil
}

// ListRoles lists account's roles whose path starts with pathPrefix,
// sorted by name.
func (i *IAM) ListRoles(account, pathPrefix string) []Role {
	i.mu.RLock()
	defer i.mu.RUnlock()
	var out []Role
	for _, r := range i.roles {
		if r.Account == account && strings.HasPrefix(r.Path, pathPrefix) {
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(a, b int) bool { return strings.ToLower(out[a].Name) < strings.ToLower(out[b].Name) })
	return out
}

// updateRole applies fn to a copy of the role and persists and swaps in
// the result.
func (i *IAM) updateRole(account, name string, fn func(r *Role) error) error {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	old := i.findRoleLocked(account, name)
	i.mu.RUnlock()
	if old == nil {
		return noSuchRole(name)
	}
	r := cloneRole(old)
	if err := fn(&r); err != nil {
		return err
	}
	return i.commit(roleRec(&r), func() { i.putRoleLocked(&r) })
}

// DeleteRole deletes a role that has no policies left, as IAM requires.
func (i *IAM) DeleteRole(account, name string) error {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	r := i.findRoleLocked(account, name)
	i.mu.RUnlock()
	switch {
	case r == nil:
		return noSuchRole(name)
	case len(r.InlinePolicies) > 0:
		return fmt.Errorf("%w: Cannot delete entity, must delete policies first.", ErrDeleteConflict)
	case len(r.ManagedPolicyARNs) > 0:
		return fmt.Errorf("%w: Cannot delete entity, must detach all policies first.", ErrDeleteConflict)
	}
	return i.commit(entityRecord{Key: roleKey(r.Account, r.Name), Deleted: true}, func() { i.dropRoleLocked(r) })
}

// UpdateRole changes a role's description (when description is not nil)
// and maximum session duration (when maxSession is not zero).
func (i *IAM) UpdateRole(account, name string, description *string, maxSession time.Duration) error {
	if maxSession != 0 && (maxSession < time.Hour || maxSession > 12*time.Hour) {
		return fmt.Errorf("%w: The requested MaxSessionDuration is out of range (3600 to 43200 seconds).", ErrInvalidInput)
	}
	return i.updateRole(account, name, func(r *Role) error {
		if description != nil {
			r.Description = *description
		}
		if maxSession != 0 {
			r.MaxSessionDuration = maxSession
		}
		return nil
	})
}

// UpdateAssumeRolePolicy replaces a role's trust policy.
func (i *IAM) UpdateAssumeRolePolicy(account, name string, doc *Policy) error {
	if err := doc.ValidateFor(TrustPolicy); err != nil {
		return err
	}
	return i.updateRole(account, name, func(r *Role) error {
		r.TrustPolicy = doc
		return nil
	})
}

// checkTags applies the tag quota to a new entity's tags.
func checkTags(tags map[string]string) error {
	if len(tags) > MaxTagsPerEntity {
		return fmt.Errorf("%w: Cannot exceed quota for TagsPerEntity: %d", ErrLimitExceeded, MaxTagsPerEntity)
	}
	return nil
}

// mergeTags adds tags to have (a new value replaces an old one).
func mergeTags(have, tags map[string]string) (map[string]string, error) {
	out := maps.Clone(have)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, tags)
	return out, checkTags(out)
}

// TagRole adds tags to a role.
func (i *IAM) TagRole(account, name string, tags map[string]string) error {
	return i.updateRole(account, name, func(r *Role) (err error) {
		r.Tags, err = mergeTags(r.Tags, tags)
		return err
	})
}

// UntagRole removes tag keys from a role; absent keys are no error.
func (i *IAM) UntagRole(account, name string, keys []string) error {
	return i.updateRole(account, name, func(r *Role) error {
		for _, k := range keys {
			delete(r.Tags, k)
		}
		return nil
	})
}

// holder is the policy-bearing part of a role or user, which the inline
// and attached policy operations share.
type holder struct {
	kind    string // "role" or "user"
	account string
	name    string
	inline  *map[string]*Policy
	managed *[]string
	limit   int // quota of the inline policies' total size
}

func roleHolder(r *Role) holder {
	return holder{"role", r.Account, r.Name, &r.InlinePolicies, &r.ManagedPolicyARNs, MaxRoleInlineTotal}
}

func userHolder(u *User) holder {
	return holder{"user", u.Account, u.Name, &u.InlinePolicies, &u.ManagedPolicyARNs, MaxUserInlineTotal}
}

func (h holder) put(name string, doc *Policy) error {
	if err := doc.ValidateFor(IdentityPolicy); err != nil {
		return err
	}
	m := maps.Clone(*h.inline)
	if m == nil {
		m = map[string]*Policy{}
	}
	m[name] = doc
	if inlineTotal(m, h.limit) != nil {
		return fmt.Errorf("%w: Maximum policy size of %d bytes exceeded for %s %s", ErrLimitExceeded, h.limit, h.kind, h.name)
	}
	*h.inline = m
	return nil
}

func (h holder) remove(name string) error {
	if _, ok := (*h.inline)[name]; !ok {
		return fmt.Errorf("%w: The %s policy with name %s cannot be found.", ErrNoSuchEntity, h.kind, name)
	}
	delete(*h.inline, name)
	return nil
}

// attach adds arn, which must exist in the holder's account or be AWS
// managed (i.mu is taken to look), once.
func (h holder) attach(i *IAM, arn string) (changed bool, err error) {
	i.mu.RLock()
	mp, ok := i.managed[arn]
	i.mu.RUnlock()
	switch {
	case !ok || mp.Account != h.account && mp.Account != AWSManaged:
		return false, fmt.Errorf("%w: Policy %s does not exist or is not attachable.", ErrNoSuchEntity, arn)
	case slices.Contains(*h.managed, arn):
		return false, nil
	case len(*h.managed) >= MaxAttachedPolicies:
		q := map[string]string{"role": "PoliciesPerRole", "user": "PoliciesPerUser"}[h.kind]
		return false, fmt.Errorf("%w: Cannot exceed quota for %s: %d", ErrLimitExceeded, q, MaxAttachedPolicies)
	}
	*h.managed = append(*h.managed, arn)
	return true, nil
}

func (h holder) detach(arn string) error {
	k := slices.Index(*h.managed, arn)
	if k < 0 {
		return fmt.Errorf("%w: Policy %s was not found.", ErrNoSuchEntity, arn)
	}
	*h.managed = slices.Delete(*h.managed, k, k+1)
	return nil
}

// errUnchanged stops an update that would change nothing.
var errUnchanged = fmt.Errorf("unchanged")

func ignoreUnchanged(err error) error {
	if err == errUnchanged {
		return nil
	}
	return err
}

// PutRolePolicy adds or replaces an inline policy of a role.
func (i *IAM) PutRolePolicy(account, role, name string, doc *Policy) error {
	return i.updateRole(account, role, func(r *Role) error { return roleHolder(r).put(name, doc) })
}

// DeleteRolePolicy removes an inline policy of a role.
func (i *IAM) DeleteRolePolicy(account, role, name string) error {
	return i.updateRole(account, role, func(r *Role) error { return roleHolder(r).remove(name) })
}

// AttachRolePolicy attaches a managed policy to a role; attaching it
// again changes nothing.
func (i *IAM) AttachRolePolicy(account, role, arn string) error {
	return ignoreUnchanged(i.updateRole(account, role, func(r *Role) error {
		changed, err := roleHolder(r).attach(i, arn)
		if err == nil && !changed {
			return errUnchanged
		}
		return err
	}))
}

// DetachRolePolicy detaches a managed policy from a role.
func (i *IAM) DetachRolePolicy(account, role, arn string) error {
	return i.updateRole(account, role, func(r *Role) error { return roleHolder(r).detach(arn) })
}

// CreateUser creates an IAM user.
func (i *IAM) CreateUser(account, name, path string, tags map[string]string) (*User, error) {
	u := User{Account: account, Name: name, Path: path, Tags: tags}
	if err := checkUser(&u); err != nil {
		return nil, err
	}
	if err := checkTags(tags); err != nil {
		return nil, err
	}
	i.wmu.Lock()
	defer i.wmu.Unlock()
	return i.createUserLocked(u)
}

// createUserLocked stores a checked user. i.wmu must be held.
func (i *IAM) createUserLocked(u User) (*User, error) {
	i.mu.RLock()
	dup := i.findUserLocked(u.Account, u.Name) != nil
	i.mu.RUnlock()
	if dup {
		return nil, fmt.Errorf("%w: User with name %s already exists.", ErrEntityAlreadyExists, u.Name)
	}
	u.CreateDate = i.today()
	c := cloneUser(&u)
	if err := i.commit(userRec(&c), func() { i.knowAccount(c.Account); i.putUserLocked(&c) }); err != nil {
		return nil, err
	}
	return &u, nil
}

// GetUser finds a user by account and name.
func (i *IAM) GetUser(account, name string) (*User, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	u := i.findUserLocked(account, name)
	if u == nil {
		return nil, noSuchUser(name)
	}
	c := *u
	return &c, nil
}

// UserByARN finds a user by ARN.
func (i *IAM) UserByARN(arn string) (*User, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	u, ok := i.users[arn]
	if !ok {
		return nil, noSuchUser(arn[strings.LastIndex(arn, "/")+1:])
	}
	c := *u
	return &c, nil
}

func (i *IAM) updateUser(account, name string, fn func(u *User) error) error {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	old := i.findUserLocked(account, name)
	i.mu.RUnlock()
	if old == nil {
		return noSuchUser(name)
	}
	u := cloneUser(old)
	if err := fn(&u); err != nil {
		return err
	}
	return i.commit(userRec(&u), func() { i.putUserLocked(&u) })
}

// DeleteUser deletes a user that has no access keys or policies left.
func (i *IAM) DeleteUser(account, name string) error {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	u := i.findUserLocked(account, name)
	var keys int
	if u != nil {
		keys = len(i.userKeys[u.ARN])
	}
	i.mu.RUnlock()
	switch {
	case u == nil:
		return noSuchUser(name)
	case keys > 0:
		return fmt.Errorf("%w: Cannot delete entity, must delete access keys first.", ErrDeleteConflict)
	case len(u.InlinePolicies) > 0:
		return fmt.Errorf("%w: Cannot delete entity, must delete policies first.", ErrDeleteConflict)
	case len(u.ManagedPolicyARNs) > 0:
		return fmt.Errorf("%w: Cannot delete entity, must detach all policies first.", ErrDeleteConflict)
	}
	return i.commit(entityRecord{Key: userKey(u.Account, u.Name), Deleted: true}, func() { i.dropUserLocked(u) })
}

// PutUserPolicy adds or replaces an inline policy of a user.
func (i *IAM) PutUserPolicy(account, user, name string, doc *Policy) error {
	return i.updateUser(account, user, func(u *User) error { return userHolder(u).put(name, doc) })
}

// DeleteUserPolicy removes an inline policy of a user.
func (i *IAM) DeleteUserPolicy(account, user, name string) error {
	return i.updateUser(account, user, func(u *User) error { return userHolder(u).remove(name) })
}

// AttachUserPolicy attaches a managed policy to a user.
func (i *IAM) AttachUserPolicy(account, user, arn string) error {
	return ignoreUnchanged(i.updateUser(account, user, func(u *User) error {
		changed, err := userHolder(u).attach(i, arn)
		if err == nil && !changed {
			return errUnchanged
		}
		return err
	}))
}

// DetachUserPolicy detaches a managed policy from a user.
func (i *IAM) DetachUserPolicy(account, user, arn string) error {
	return i.updateUser(account, user, func(u *User) error { return userHolder(u).detach(arn) })
}

// AccessKeyInfo is what ListAccessKeys tells of a user's key.
type AccessKeyInfo struct {
	UserName    string
	AccessKeyID string
	Active      bool
	CreateDate  time.Time
}

// CreateUserAccessKey makes a long-term key for a user, at most
// MaxAccessKeysPerUser of them as IAM's quota allows.
func (i *IAM) CreateUserAccessKey(account, name string) (Credentials, AccessKeyInfo, error) {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	u := i.findUserLocked(account, name)
	var n int
	if u != nil {
		n = len(i.userKeys[u.ARN])
	}
	i.mu.RUnlock()
	switch {
	case u == nil:
		return Credentials{}, AccessKeyInfo{}, noSuchUser(name)
	case n >= MaxAccessKeysPerUser:
		return Credentials{}, AccessKeyInfo{}, fmt.Errorf("%w: Cannot exceed quota for AccessKeysPerUser: %d", ErrLimitExceeded, MaxAccessKeysPerUser)
	}
	k, err := i.newUserKey(u)
	if err != nil {
		return Credentials{}, AccessKeyInfo{}, err
	}
	return k.Credentials, AccessKeyInfo{UserName: u.Name, AccessKeyID: k.Credentials.AccessKeyID, Active: true, CreateDate: k.IssuedAt}, nil
}

// newUserKey makes and stores an AKIA key for u.
func (i *IAM) newUserKey(u *User) (*accessKey, error) {
	creds, err := i.newKeyPair("AKIA")
	if err != nil {
		return nil, err
	}
	p := Principal{Type: PrincipalUser, Account: u.Account, ARN: u.ARN, UserID: u.UserID, Tags: u.Tags}
	k := &accessKey{Credentials: creds, Principal: p, IssuedAt: i.today()}
	if err := i.storeKey(k); err != nil {
		return nil, err
	}
	return k, nil
}

// ListAccessKeys lists a user's keys, sorted by ID.
func (i *IAM) ListAccessKeys(account, name string) ([]AccessKeyInfo, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	u := i.findUserLocked(account, name)
	if u == nil {
		return nil, noSuchUser(name)
	}
	out := []AccessKeyInfo{}
	for id := range i.userKeys[u.ARN] {
		if k, ok := i.keys[id]; ok {
			out = append(out, AccessKeyInfo{UserName: u.Name, AccessKeyID: id, Active: !k.Inactive, CreateDate: k.IssuedAt})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].AccessKeyID < out[b].AccessKeyID })
	return out, nil
}

// userKeyLocked finds key id of user name. i.mu must be held.
func (i *IAM) userKeyLocked(account, name, id string) (*accessKey, error) {
	u := i.findUserLocked(account, name)
	if u == nil {
		return nil, noSuchUser(name)
	}
	k, ok := i.keys[id]
	if !ok || !i.userKeys[u.ARN][id] {
		return nil, fmt.Errorf("%w: The Access Key with id %s cannot be found.", ErrNoSuchEntity, id)
	}
	return k, nil
}

// UpdateAccessKey makes a user's key active or inactive; an inactive key
// authenticates nothing.
func (i *IAM) UpdateAccessKey(account, name, id string, active bool) error {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	k, err := i.userKeyLocked(account, name, id)
	i.mu.RUnlock()
	if err != nil {
		return err
	}
	c := *k // keys are never changed in place: a compaction may be writing them
	c.Inactive = !active
	return i.journalKeyChange(&c, func() { i.keys[id] = &c })
}

// DeleteAccessKey deletes a user's key.
func (i *IAM) DeleteAccessKey(account, name, id string) error {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	k, err := i.userKeyLocked(account, name, id)
	i.mu.RUnlock()
	if err != nil {
		return err
	}
	tomb := &accessKey{Credentials: Credentials{AccessKeyID: id}, Deleted: true}
	return i.journalKeyChange(tomb, func() {
		delete(i.keys, id)
		i.unindexKey(k)
	})
}

// journalKeyChange writes rec to the key journal (when there is one)
// and then applies change under i.mu; a change that could not be
// journaled is not made.
func (i *IAM) journalKeyChange(rec *accessKey, change func()) error {
	if i.jr == nil {
		i.mu.Lock()
		change()
		i.mu.Unlock()
		return nil
	}
	i.jmu.Lock()
	defer i.jmu.Unlock()
	i.mu.RLock()
	live := len(i.keys)
	i.mu.RUnlock()
	due, err := i.jr.Append(live, keyRecord{rec})
	if err != nil {
		return fmt.Errorf("persist access key change: %w", err)
	}
	i.mu.Lock()
	change()
	i.mu.Unlock()
	if due {
		i.compactLocked()
	}
	return nil
}

// indexKey and unindexKey keep userKeys in step with keys. i.mu must be
// held.
func (i *IAM) indexKey(k *accessKey) {
	if k.Principal.Type != PrincipalUser || !k.Credentials.Expiration.IsZero() {
		return
	}
	m := i.userKeys[k.Principal.ARN]
	if m == nil {
		m = map[string]bool{}
		i.userKeys[k.Principal.ARN] = m
	}
	m[k.Credentials.AccessKeyID] = true
}

func (i *IAM) unindexKey(k *accessKey) {
	if m := i.userKeys[k.Principal.ARN]; m != nil {
		delete(m, k.Credentials.AccessKeyID)
		if len(m) == 0 {
			delete(i.userKeys, k.Principal.ARN)
		}
	}
}

// CreatePolicy creates a customer managed policy (version v1, the
// default).
func (i *IAM) CreatePolicy(account, name, path, description string, doc *Policy, tags map[string]string) (*ManagedPolicy, error) {
	mp, err := newManagedPolicy(account, name, path, description, doc, i.now())
	if err != nil {
		return nil, err
	}
	if err := checkTags(tags); err != nil {
		return nil, err
	}
	mp.Tags = tags
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	dup := i.findPolicyLocked(account, name) != nil
	i.mu.RUnlock()
	if dup {
		return nil, fmt.Errorf("%w: A policy called %s already exists. Duplicate names are not allowed.", ErrEntityAlreadyExists, name)
	}
	if err := i.commit(policyRec(mp), func() { i.knowAccount(account); i.putPolicyLocked(mp) }); err != nil {
		return nil, err
	}
	return mp, nil
}

// AttachmentCount is how many roles and users a managed policy is
// attached to.
func (i *IAM) AttachmentCount(arn string) int {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.attachmentsLocked(arn)
}

func (i *IAM) attachmentsLocked(arn string) int {
	n := 0
	for _, r := range i.roles {
		if slices.Contains(r.ManagedPolicyARNs, arn) {
			n++
		}
	}
	for _, u := range i.users {
		if slices.Contains(u.ManagedPolicyARNs, arn) {
			n++
		}
	}
	return n
}

// PolicyVersion returns version id of a managed policy and whether it is
// the default.
func (i *IAM) PolicyVersion(arn, id string) (PolicyVersion, bool, error) {
	mp, err := i.ManagedPolicy(arn)
	if err != nil {
		return PolicyVersion{}, false, err
	}
	for _, v := range mp.Versions {
		if v.ID == id {
			return v, id == mp.DefaultVersionID, nil
		}
	}
	return PolicyVersion{}, false, fmt.Errorf("%w: Policy %s version %s does not exist or is not attachable.", ErrNoSuchEntity, arn, id)
}

// updatePolicy is updateRole for managed policies.
func (i *IAM) updatePolicy(arn string, fn func(mp *ManagedPolicy) error) error {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	old, ok := i.managed[arn]
	i.mu.RUnlock()
	if !ok {
		return noSuchPolicy(arn)
	}
	mp := *old
	mp.Versions = slices.Clone(old.Versions)
	mp.Tags = maps.Clone(old.Tags)
	if err := fn(&mp); err != nil {
		return err
	}
	return i.commit(policyRec(&mp), func() { i.putPolicyLocked(&mp) })
}

// CreatePolicyVersion adds a version to a managed policy, the default one
// when setDefault.
func (i *IAM) CreatePolicyVersion(arn string, doc *Policy, setDefault bool) (PolicyVersion, error) {
	if err := checkManagedDocument(doc); err != nil {
		return PolicyVersion{}, err
	}
	var v PolicyVersion
	err := i.updatePolicy(arn, func(mp *ManagedPolicy) error {
		if len(mp.Versions) >= MaxPolicyVersions {
			return fmt.Errorf("%w: A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", ErrLimitExceeded, MaxPolicyVersions)
		}
		v = PolicyVersion{ID: "v" + strconv.Itoa(mp.nextVersion), Document: doc, CreateDate: i.today()}
		mp.nextVersion++
		mp.Versions = append(mp.Versions, v)
		mp.UpdateDate = v.CreateDate
		if setDefault {
			mp.DefaultVersionID, mp.Document = v.ID, doc
		}
		return nil
	})
	return v, err
}

// DeletePolicyVersion deletes a version that is not the default.
func (i *IAM) DeletePolicyVersion(arn, id string) error {
	return i.updatePolicy(arn, func(mp *ManagedPolicy) error {
		k := slices.IndexFunc(mp.Versions, func(v PolicyVersion) bool { return v.ID == id })
		switch {
		case k < 0:
			return fmt.Errorf("%w: Policy %s version %s does not exist or is not attachable.", ErrNoSuchEntity, arn, id)
		case id == mp.DefaultVersionID:
			return fmt.Errorf("%w: Cannot delete the default version of a policy.", ErrDeleteConflict)
		}
		mp.Versions = slices.Delete(mp.Versions, k, k+1)
		return nil
	})
}

// ListPolicies lists account's managed policies under pathPrefix, only
// the attached ones when onlyAttached, sorted by name.
func (i *IAM) ListPolicies(account, pathPrefix string, onlyAttached bool) []ManagedPolicy {
	i.mu.RLock()
	defer i.mu.RUnlock()
	var out []ManagedPolicy
	for _, p := range i.managed {
		if p.Account == account && strings.HasPrefix(p.Path, pathPrefix) && (!onlyAttached || i.attachmentsLocked(p.ARN) > 0) {
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(a, b int) bool { return strings.ToLower(out[a].Name) < strings.ToLower(out[b].Name) })
	return out
}

// DeletePolicy deletes a managed policy that is attached to nothing and
// has no version but the default, as IAM requires.
func (i *IAM) DeletePolicy(arn string) error {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	mp, ok := i.managed[arn]
	attached := ok && i.attachmentsLocked(arn) > 0
	i.mu.RUnlock()
	switch {
	case !ok:
		return noSuchPolicy(arn)
	case attached:
		return fmt.Errorf("%w: Cannot delete a policy attached to entities.", ErrDeleteConflict)
	case len(mp.Versions) > 1:
		return fmt.Errorf("%w: This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.", ErrDeleteConflict)
	}
	return i.commit(entityRecord{Key: policyKey(mp.Account, mp.Name), Deleted: true}, func() { i.dropPolicyLocked(mp) })
}

// CreateOIDCProvider registers an OIDC provider (URL with https://).
func (i *IAM) CreateOIDCProvider(p OIDCProvider) (*OIDCProvider, error) {
	if !strings.HasPrefix(p.URL, "https://") {
		return nil, fmt.Errorf("%w: Invalid URL: the provider URL must begin with https://", ErrInvalidInput)
	}
	if err := checkProvider(&p); err != nil {
		return nil, err
	}
	if err := checkTags(p.Tags); err != nil {
		return nil, err
	}
	if err := checkClientIDs(p.ClientIDs); err != nil {
		return nil, err
	}
	if len(p.Thumbprints) > MaxThumbprintsPerOIDC {
		return nil, fmt.Errorf("%w: Thumbprint list must contain fewer than %d entries.", ErrInvalidInput, MaxThumbprintsPerOIDC+1)
	}
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	_, dup := i.providers[p.ARN]
	i.mu.RUnlock()
	if dup {
		return nil, fmt.Errorf("%w: Provider with url https://%s already exists.", ErrEntityAlreadyExists, p.URL)
	}
	p.CreateDate = i.today()
	c := p
	if err := i.commit(providerRec(&c), func() { i.knowAccount(c.Account); i.providers[c.ARN] = &c }); err != nil {
		return nil, err
	}
	return &p, nil
}

func checkClientIDs(ids []string) error {
	if len(ids) > MaxClientIDsPerOIDC {
		return fmt.Errorf("%w: Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: %d", ErrLimitExceeded, MaxClientIDsPerOIDC)
	}
	return nil
}

// OIDCProviderByARN finds a provider by ARN.
func (i *IAM) OIDCProviderByARN(arn string) (*OIDCProvider, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	p, ok := i.providers[arn]
	if !ok {
		return nil, noSuchProvider(arn)
	}
	c := *p
	return &c, nil
}

// ListOIDCProviders lists account's providers, sorted by ARN.
func (i *IAM) ListOIDCProviders(account string) []OIDCProvider {
	i.mu.RLock()
	defer i.mu.RUnlock()
	var out []OIDCProvider
	for _, p := range i.providers {
		if p.Account == account {
			out = append(out, *p)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ARN < out[b].ARN })
	return out
}

func (i *IAM) updateProvider(arn string, fn func(p *OIDCProvider) error) error {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	old, ok := i.providers[arn]
	i.mu.RUnlock()
	if !ok {
		return noSuchProvider(arn)
	}
	p := *old
	p.ClientIDs, p.Thumbprints, p.Tags = slices.Clone(old.ClientIDs), slices.Clone(old.Thumbprints), maps.Clone(old.Tags)
	if err := fn(&p); err != nil {
		return err
	}
	return i.commit(providerRec(&p), func() { i.providers[arn] = &p })
}

// DeleteOIDCProvider deletes a provider.
func (i *IAM) DeleteOIDCProvider(arn string) error {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	i.mu.RLock()
	_, ok := i.providers[arn]
	i.mu.RUnlock()
	if !ok {
		return noSuchProvider(arn)
	}
	return i.commit(entityRecord{Key: providerKey(arn), Deleted: true}, func() { delete(i.providers, arn) })
}

// AddClientIDToOIDCProvider adds an audience; adding one twice changes
// nothing.
func (i *IAM) AddClientIDToOIDCProvider(arn, id string) error {
	return ignoreUnchanged(i.updateProvider(arn, func(p *OIDCProvider) error {
		if slices.Contains(p.ClientIDs, id) {
			return errUnchanged
		}
		p.ClientIDs = append(p.ClientIDs, id)
		return checkClientIDs(p.ClientIDs)
	}))
}

// RemoveClientIDFromOIDCProvider removes an audience; removing one that
// is not there is no error, as IAM documents.
func (i *IAM) RemoveClientIDFromOIDCProvider(arn, id string) error {
	return ignoreUnchanged(i.updateProvider(arn, func(p *OIDCProvider) error {
		k := slices.Index(p.ClientIDs, id)
		if k < 0 {
			return errUnchanged
		}
		p.ClientIDs = slices.Delete(p.ClientIDs, k, k+1)
		return nil
	}))
}

// UpdateOIDCProviderThumbprint replaces a provider's thumbprints.
func (i *IAM) UpdateOIDCProviderThumbprint(arn string, thumbprints []string) error {
	if len(thumbprints) > MaxThumbprintsPerOIDC {
		return fmt.Errorf("%w: Thumbprint list must contain fewer than %d entries.", ErrInvalidInput, MaxThumbprintsPerOIDC+1)
	}
	return i.updateProvider(arn, func(p *OIDCProvider) error {
		p.Thumbprints = slices.Clone(thumbprints)
		return nil
	})
}

// Accounts lists the account IDs the store knows, sorted.
func (i *IAM) Accounts() []string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return slices.Sorted(maps.Keys(i.accounts))
}

// SourcePolicy is one policy of a principal as IAM's policy simulator
// names it: ID is the policy's name, Type its PolicySourceType (role,
// user, user-managed, aws-managed).
type SourcePolicy struct {
	ID     string
	Type   string
	Policy *Policy
}

// PolicySource is the principal a role or user ARN stands for and its
// identity policies (inline, then attached), for SimulatePrincipalPolicy.
func (i *IAM) PolicySource(arn string) (Principal, []SourcePolicy, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	var out []SourcePolicy
	add := func(kind string, inline map[string]*Policy, managed []string) {
		for _, n := range slices.Sorted(maps.Keys(inline)) {
			out = append(out, SourcePolicy{ID: n, Type: kind, Policy: inline[n]})
		}
		for _, a := range managed {
			if mp, ok := i.managed[a]; ok {
				t := "user-managed"
				if mp.Account == AWSManaged {
					t = "aws-managed"
				}
				out = append(out, SourcePolicy{ID: mp.Name, Type: t, Policy: mp.Document})
			}
		}
	}
	if r, ok := i.roles[arn]; ok {
		add("role", r.InlinePolicies, r.ManagedPolicyARNs)
		return Principal{Type: PrincipalAssumedRole, Account: r.Account, ARN: r.ARN, RoleARN: r.ARN, UserID: r.RoleID, Tags: r.Tags}, out, nil
	}
	if u, ok := i.users[arn]; ok {
		add("user", u.InlinePolicies, u.ManagedPolicyARNs)
		return Principal{Type: PrincipalUser, Account: u.Account, ARN: u.ARN, UserID: u.UserID, Tags: u.Tags}, out, nil
	}
	return Principal{}, nil, fmt.Errorf("%w: The entity %s cannot be found.", ErrNoSuchEntity, arn)
}
