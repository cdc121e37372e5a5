package awsiam

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const mAcct = "123456789012"

var (
	mTrust = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	mRead  = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
	mList  = MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}`)
)

// fixtureRoles: a role, a policy it attaches and a provider, as a lab's
// fixtures would hold them.
const fixtureRoles = `accounts:
  - id: "123456789012"
    oidcProviders:
      - url: https://oidc.example.com
        clientIDs: [sts.amazonaws.com]
    policies:
      - name: fixed
        document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:ListBucket", Resource: "*"}]}
    roles:
      - name: kept
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: "sts:AssumeRole"}]}
      - name: changed
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: "sts:AssumeRole"}]}
        managedPolicies: [arn:aws:iam::123456789012:policy/fixed]
      - name: deleted
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: "sts:AssumeRole"}]}
`

func openStore(t *testing.T, dir string, fixtures string) *IAM {
	t.Helper()
	i, err := New(Options{DataDir: dir, Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = i.Close() })
	if fixtures != "" {
		require.NoError(t, i.LoadFixtureYAML("fixtures.yaml", []byte(fixtures)))
	}
	return i
}

// What the API makes, changes and deletes is there after a restart, and
// wins over the fixtures that first made an entity.
func TestEntitiesSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	i := openStore(t, dir, fixtureRoles)

	_, err := i.CreateRole(Role{Account: mAcct, Name: "made", Path: "/p/", TrustPolicy: mTrust, Description: "d", Tags: map[string]string{"a": "b"}})
	require.NoError(t, err)
	require.NoError(t, i.PutRolePolicy(mAcct, "made", "read", mRead))
	mp, err := i.CreatePolicy(mAcct, "versions", "/", "", mRead, nil)
	require.NoError(t, err)
	_, err = i.CreatePolicyVersion(mp.ARN, mList, true)
	require.NoError(t, err)
	require.NoError(t, i.AttachRolePolicy(mAcct, "made", mp.ARN))
	require.NoError(t, i.UpdateAssumeRolePolicy(mAcct, "changed", mTrust))
	require.NoError(t, i.DetachRolePolicy(mAcct, "changed", "arn:aws:iam::123456789012:policy/fixed"))
	require.NoError(t, i.DeleteRole(mAcct, "deleted"))
	require.NoError(t, i.AddClientIDToOIDCProvider("arn:aws:iam::123456789012:oidc-provider/oidc.example.com", "my-app"))
	_, err = i.CreateUser(mAcct, "ci", "/", nil)
	require.NoError(t, err)
	creds, _, err := i.CreateUserAccessKey(mAcct, "ci")
	require.NoError(t, err)
	require.NoError(t, i.UpdateAccessKey(mAcct, "ci", creds.AccessKeyID, false))
	require.NoError(t, i.Close())

	j := openStore(t, dir, fixtureRoles)
	made, err := j.GetRole(mAcct, "MADE")
	require.NoError(t, err)
	require.Equal(t, "arn:aws:iam::123456789012:role/p/made", made.ARN)
	require.Equal(t, "d", made.Description)
	require.Equal(t, map[string]string{"a": "b"}, made.Tags)
	require.Equal(t, []string{mp.ARN}, made.ManagedPolicyARNs)
	require.Equal(t, string(mRead.Raw), string(made.InlinePolicies["read"].Raw))
	changed, err := j.GetRole(mAcct, "changed")
	require.NoError(t, err)
	require.Empty(t, changed.ManagedPolicyARNs, "the API's detach wins over the fixture")
	_, err = j.GetRole(mAcct, "deleted")
	require.ErrorIs(t, err, ErrNoSuchEntity, "the API's delete wins over the fixture")
	_, err = j.GetRole(mAcct, "kept")
	require.NoError(t, err, "untouched fixtures load as ever")
	pv, isDefault, err := j.PolicyVersion(mp.ARN, "v2")
	require.NoError(t, err)
	require.True(t, isDefault)
	require.Equal(t, string(mList.Raw), string(pv.Document.Raw))
	v3, err := j.CreatePolicyVersion(mp.ARN, mRead, false)
	require.NoError(t, err)
	require.Equal(t, "v3", v3.ID, "version numbers go on")
	p, err := j.OIDCProviderByARN("arn:aws:iam::123456789012:oidc-provider/oidc.example.com")
	require.NoError(t, err)
	require.Equal(t, []string{"sts.amazonaws.com", "my-app"}, p.ClientIDs)
	_, _, err = j.LookupAccessKey(creds.AccessKeyID)
	require.ErrorIs(t, err, ErrUnknownAccessKey, "an inactive key stays inactive")
	keys, err := j.ListAccessKeys(mAcct, "ci")
	require.NoError(t, err)
	require.Equal(t, []AccessKeyInfo{{UserName: "ci", AccessKeyID: creds.AccessKeyID, Active: false, CreateDate: keys[0].CreateDate}}, keys)

	// Deleted, then made again: the new one stands.
	require.NoError(t, j.DeleteAccessKey(mAcct, "ci", creds.AccessKeyID))
	require.NoError(t, j.DeleteUser(mAcct, "ci"))
	_, err = j.CreateRole(Role{Account: mAcct, Name: "deleted", TrustPolicy: mTrust, Description: "again"})
	require.NoError(t, err)
	require.NoError(t, j.Close())
	k := openStore(t, dir, fixtureRoles)
	again, err := k.GetRole(mAcct, "deleted")
	require.NoError(t, err)
	require.Equal(t, "again", again.Description)
	_, err = k.GetUser(mAcct, "ci")
	require.ErrorIs(t, err, ErrNoSuchEntity)
	_, _, err = k.LookupAccessKey(creds.AccessKeyID)
	require.ErrorIs(t, err, ErrUnknownAccessKey)
}

func TestEntityFileErrors(t *testing.T) {
	tests := []struct {
		name, file, content, want string
	}{
		{"not JSON", entityFile(roleKey(mAcct, "r")), "{", "parse"},
		{"in the wrong file", "role-00.json", `{"key":"role/123456789012/r","deleted":true}`, "belongs in"},
		{"a bad document", entityFile(roleKey(mAcct, "r")),
			`{"key":"role/123456789012/r","role":{"account":"123456789012","name":"r","path":"/","roleId":"AROAX","trustPolicy":"{","maxSessionSeconds":3600,"createDate":"2026-01-01T00:00:00Z"}}`,
			"trust policy"},
		{"a key that is not its role's", entityFile(roleKey(mAcct, "other")),
			`{"key":"role/123456789012/other","role":{"account":"123456789012","name":"r","path":"/","roleId":"AROAX","trustPolicy":` +
				fmt.Sprintf("%q", string(mTrust.Raw)) + `,"maxSessionSeconds":3600,"createDate":"2026-01-01T00:00:00Z"}}`, "does not match"},
		{"an unknown field", entityFile(roleKey(mAcct, "r")), `{"key":"role/123456789012/r","deleted":true,"extra":1}`, "unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(dir, entitiesDir), 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(dir, entitiesDir, tc.file), []byte(tc.content), 0o600))
			_, err := New(Options{DataDir: dir})
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, tc.file, "the error names the file")
		})
	}
}

// The lab's admins: one user per account allowed everything, their keys
// in a shared-credentials file, the same keys after a restart.
func TestEnsureAdmins(t *testing.T) {
	dir := t.TempDir()
	i := openStore(t, dir, "")
	require.NoError(t, i.EnsureAdmins("222222222222", "111111111111"))
	raw, err := os.ReadFile(filepath.Join(dir, AdminCredentialsFile))
	require.NoError(t, err)
	st, err := os.Stat(filepath.Join(dir, AdminCredentialsFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	a, err := i.EnsureAdmin("222222222222")
	require.NoError(t, err)
	b, err := i.EnsureAdmin("111111111111")
	require.NoError(t, err)
	require.NotEqual(t, a.AccessKeyID, b.AccessKeyID)
	text := string(raw)
	require.Contains(t, text, "\n[idlab-111111111111]\naws_access_key_id = "+b.AccessKeyID+"\naws_secret_access_key = "+b.SecretAccessKey+"\n")
	require.Contains(t, text, "\n[idlab-222222222222]\naws_access_key_id = "+a.AccessKeyID+"\n")
	require.Contains(t, text, "\n[default]\naws_access_key_id = "+a.AccessKeyID+"\n", "default is the first account given")

	_, p, err := i.LookupAccessKey(a.AccessKeyID)
	require.NoError(t, err)
	require.Equal(t, "arn:aws:iam::222222222222:user/idlab/idlab-admin", p.ARN)
	d := i.Authorize(t.Context(), Request{Principal: p, Action: "iam:CreateRole", Resource: "arn:aws:iam::222222222222:role/x"})
	require.True(t, d.Allowed(), d.Reason)
	d = i.Authorize(t.Context(), Request{Principal: p, Action: "iam:CreateRole", Resource: "arn:aws:iam::111111111111:role/x", ResourceAccount: "111111111111"})
	require.False(t, d.Allowed(), "an admin is its own account's")

	require.NoError(t, i.Close())
	j := openStore(t, dir, "")
	require.NoError(t, j.EnsureAdmins("111111111111"))
	again, err := os.ReadFile(filepath.Join(dir, AdminCredentialsFile))
	require.NoError(t, err)
	require.Contains(t, string(again), "[idlab-222222222222]\naws_access_key_id = "+a.AccessKeyID, "the keys survive a restart")
	require.Contains(t, string(again), "[default]\naws_access_key_id = "+b.AccessKeyID, "the default is this run's first account")
	require.Error(t, j.EnsureAdmins("12"))
}

// Fixtures loaded while the API changes entities: no lost change, no
// duplicate, no race.
func TestConcurrentChanges(t *testing.T) {
	i := openStore(t, t.TempDir(), "")
	_, err := i.CreateRole(Role{Account: mAcct, Name: "r", TrustPolicy: mTrust})
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for n := range 16 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- i.PutRolePolicy(mAcct, "r", fmt.Sprintf("p%d", n), mRead)
		}()
		go func() {
			defer wg.Done()
			_, err := i.CreateRole(Role{Account: mAcct, Name: "dup", TrustPolicy: mTrust})
			if err != nil && !strings.Contains(err.Error(), "already exists") {
				errs <- err
			}
			_, _ = i.GetRole(mAcct, "r")
			i.Authorize(t.Context(), Request{Principal: Principal{Type: PrincipalAssumedRole, Account: mAcct, RoleARN: "arn:aws:iam::123456789012:role/r"},
				Action: "s3:GetObject", Resource: "*"})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	r, err := i.GetRole(mAcct, "r")
	require.NoError(t, err)
	require.Len(t, r.InlinePolicies, 16)
	require.Len(t, i.ListRoles(mAcct, "/"), 2)
}

// IAM's quotas and conflicts, with IAM's messages.
func TestManageErrors(t *testing.T) {
	i := openStore(t, "", fixtureRoles)
	big := MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("x", 6000) + `"}]}`)
	tests := []struct {
		name string
		err  error
		is   error
		msg  string
	}{
		{"inline over the role quota", func() error {
			require.NoError(t, i.PutRolePolicy(mAcct, "kept", "a", big))
			return i.PutRolePolicy(mAcct, "kept", "b", big)
		}(), ErrLimitExceeded, "Maximum policy size of 10240 bytes exceeded for role kept"},
		{"no such inline policy", i.DeleteRolePolicy(mAcct, "kept", "nope"), ErrNoSuchEntity, "The role policy with name nope cannot be found."},
		{"detach what is not attached", i.DetachRolePolicy(mAcct, "kept", "arn:aws:iam::123456789012:policy/fixed"), ErrNoSuchEntity,
			"Policy arn:aws:iam::123456789012:policy/fixed was not found."},
		{"delete an attached policy", i.DeletePolicy("arn:aws:iam::123456789012:policy/fixed"), ErrDeleteConflict, "Cannot delete a policy attached to entities."},
		{"no such provider", i.DeleteOIDCProvider("arn:aws:iam::123456789012:oidc-provider/nope"), ErrNoSuchEntity,
			"OpenIDConnect Provider not found for arn arn:aws:iam::123456789012:oidc-provider/nope"},
		{"too many tags", i.TagRole(mAcct, "kept", func() map[string]string {
			m := map[string]string{}
			for n := range 51 {
				m[fmt.Sprint(n)] = "v"
			}
			return m
		}()), ErrLimitExceeded, "Cannot exceed quota for TagsPerEntity: 50"},
		{"a duplicate policy name under another path", func() error {
			_, err := i.CreatePolicy(mAcct, "FIXED", "/other/", "", mRead, nil)
			return err
		}(), ErrEntityAlreadyExists, "A policy called FIXED already exists. Duplicate names are not allowed."},
		{"attach another account's policy", func() error {
			other, err := i.CreatePolicy("999999999999", "theirs", "/", "", mRead, nil)
			require.NoError(t, err)
			return i.AttachRolePolicy(mAcct, "kept", other.ARN)
		}(), ErrNoSuchEntity, "Policy arn:aws:iam::999999999999:policy/theirs does not exist or is not attachable."},
		{"a trust policy that is an identity policy", i.UpdateAssumeRolePolicy(mAcct, "kept", mRead), nil, "Missing required field Principal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, tc.err)
			if tc.is != nil {
				require.ErrorIs(t, tc.err, tc.is)
			}
			require.Contains(t, tc.err.Error(), tc.msg)
		})
	}
}
