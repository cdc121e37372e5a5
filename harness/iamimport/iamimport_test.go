package iamimport

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awsiamapi"
)

// The testdata files are the outputs of AWS's examples for each command
// (awscli's examples/iam/*.rst), made valid JSON and printed as awscli 2
// prints them; get-role-urlencoded.json holds its document URL-encoded,
// as the API and the SDKs return it.
func parseFile(t *testing.T, name string) *File {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	f, err := Parse(name, raw)
	require.NoError(t, err)
	return f
}

const testTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/server.example.com"},` +
	`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"server.example.com:sub":"system:serviceaccount:default:my-app","server.example.com:aud":"example-application-ID"}}}]}`

func TestParse(t *testing.T) {
	tests := []struct {
		file string
		want File
	}{
		{"get-role.json", File{Kind: KindRole, Role: &Role{Account: "123456789012", Name: "Test-Role", Path: "/", TrustPolicy: testTrust,
			Description: "Test Role", MaxSessionDuration: 3600, Tags: []Tag{{"Team", "Payments"}}}}},
		{"get-role-urlencoded.json", File{Kind: KindRole, Role: &Role{Account: "123456789012", Name: "Ec2Role", Path: "/service-role/",
			TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`, MaxSessionDuration: 7200}}},
		{"get-role-policy.json", File{Kind: KindRolePolicy, RolePolicy: &InlinePolicy{Role: "Test-Role", Name: "ExamplePolicy",
			Document: `{"Statement":[{"Action":["s3:ListBucket","s3:Put*","s3:Get*","s3:*MultipartUpload*"],"Resource":"*","Effect":"Allow","Sid":"1"}]}`}}},
		{"list-attached-role-policies.json", File{Kind: KindAttached, Attached: []Attachment{{PolicyARN: "arn:aws:iam::123456789012:policy/MyPolicy", Name: "MyPolicy"}}}},
		{"MyPolicy.json", File{Kind: KindPolicyVersion, Version: `{"Version":"2012-10-17","Statement":[{"Action":"iam:*","Resource":"*","Effect":"Allow"}]}`}},
		{"get-policy.json", File{Kind: KindPolicy, Policy: &Policy{ARN: "arn:aws:iam::123456789012:policy/teams/MySamplePolicy", Account: "123456789012",
			Name: "MySamplePolicy", Path: "/teams/", Description: "My sample policy"}}},
		{"get-open-id-connect-provider.json", File{Kind: KindOIDCProvider, Provider: &Provider{URL: "https://server.example.com",
			ClientIDs: []string{"example-application-ID"}, Thumbprints: []string{"12345abcdefghijk67890lmnopqrst987example"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got := parseFile(t, tc.file)
			tc.want.Name = tc.file
			require.Equal(t, &tc.want, got)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"text output", "ROLE\tarn:aws:iam::123456789012:role/x", "not a JSON object as awscli prints (use --output json)"},
		{"another command's output", `{"Users": []}`, "not the output of aws iam get-role"},
		{"a role without an ARN", `{"Role": {"RoleName": "x", "AssumeRolePolicyDocument": {}}}`, `Role.Arn "" is not a role ARN`},
		{"a name that is not the ARN's", `{"Role": {"RoleName": "x", "Arn": "arn:aws:iam::123456789012:role/y", "AssumeRolePolicyDocument": {}}}`,
			`Role.RoleName "x" is not the name in Role.Arn`},
		{"a permissions boundary", `{"Role": {"Arn": "arn:aws:iam::123456789012:role/y", "AssumeRolePolicyDocument": {"Statement": []},
			"PermissionsBoundary": {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": "arn:aws:iam::aws:policy/PowerUserAccess"}}}`,
			"permissions boundary, which idlab does not evaluate"},
		{"no trust policy", `{"Role": {"Arn": "arn:aws:iam::123456789012:role/y"}}`, "Role.AssumeRolePolicyDocument is missing"},
		{"a trust policy that is no document", `{"Role": {"Arn": "arn:aws:iam::123456789012:role/y", "AssumeRolePolicyDocument": "%zz"}}`, "not URL-encoded JSON"},
		{"a document that is an array", `{"RoleName": "r", "PolicyName": "p", "PolicyDocument": [1]}`, "PolicyDocument is not a JSON policy document"},
		{"an attached ARN that is no policy", `{"AttachedPolicies": [{"PolicyName": "r", "PolicyArn": "arn:aws:iam::123456789012:role/r"}]}`, "is not a policy ARN"},
		{"a provider URL with a scheme inside", `{"Url": "https://a.example/x://y", "ClientIDList": []}`, "is not an issuer host and path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.json", []byte(tc.content))
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "f.json")
		})
	}
}

func TestBuild(t *testing.T) {
	load := func(t *testing.T, names ...string) []*File {
		var out []*File
		for _, n := range names {
			out = append(out, parseFile(t, n))
		}
		return out
	}
	t.Run("a role with everything", func(t *testing.T) {
		p, err := Build(load(t, "get-role.json", "get-role-policy.json", "list-attached-role-policies.json", "MyPolicy.json", "get-open-id-connect-provider.json"), Options{})
		require.NoError(t, err)
		require.Equal(t, []string{"123456789012"}, p.Accounts())
		require.Equal(t, "arn:aws:iam::123456789012:oidc-provider/server.example.com", p.Providers[0].ARN(), "the provider's account is the role's")
		require.Equal(t, []InlinePolicy{{Account: "123456789012", Role: "Test-Role", Name: "ExamplePolicy", Document: parseFile(t, "get-role-policy.json").RolePolicy.Document}}, p.Inline)
		require.Equal(t, []Attachment{{Account: "123456789012", Role: "Test-Role", PolicyARN: "arn:aws:iam::123456789012:policy/MyPolicy", Name: "MyPolicy"}}, p.Attachments)
		require.Equal(t, []Policy{{ARN: "arn:aws:iam::123456789012:policy/MyPolicy", Account: "123456789012", Name: "MyPolicy", Path: "/",
			Document: parseFile(t, "MyPolicy.json").Version}}, p.Policies)
	})
	tests := []struct {
		name  string
		files []string
		opts  Options
		want  string // error; "" for none
	}{
		{"an attached list for the only role", []string{"get-role.json", "list-attached-role-policies.json"}, Options{}, ""},
		{"an attached list and two roles", []string{"get-role.json", "get-role-urlencoded.json", "list-attached-role-policies.json"}, Options{},
			"list-attached-role-policies names no role and the import holds 2 roles: give --role"},
		{"an attached list for a named role", []string{"get-role.json", "get-role-urlencoded.json", "list-attached-role-policies.json"}, Options{Role: "Ec2Role"}, ""},
		{"an attached list for a role the lab holds", []string{"list-attached-role-policies.json"}, Options{Role: "existing", Account: "123456789012"}, ""},
		{"a provider and no role", []string{"get-open-id-connect-provider.json"}, Options{}, "which account? The import's roles name 0 accounts; give --account"},
		{"a provider given its account", []string{"get-open-id-connect-provider.json"}, Options{Account: "210987654321"}, ""},
		{"an inline policy of a role the lab holds", []string{"get-role-policy.json"}, Options{Account: "123456789012"}, ""},
		{"a version no policy is named for", []string{"get-role.json", "MyPolicy.json"}, Options{},
			`get-policy-version names no policy, so the file's name must: "MyPolicy" is the name of 0 policies`},
		{"a version named by get-policy", []string{"get-role.json", "get-policy.json", "MyPolicy.json"}, Options{}, `"MyPolicy" is the name of 0 policies`},
		{"an AWS managed version", []string{"get-role.json", "list-attached-aws-managed.json", "SecurityAudit.json"}, Options{}, ""},
		{"a role twice", []string{"get-role.json", "get-role.json"}, Options{}, "role Test-Role is in the import twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var files []*File
			for _, n := range tc.files {
				if n == "SecurityAudit.json" { // a version of an AWS managed policy, named for it
					f, err := Parse(n, []byte(`{"PolicyVersion": {"Document": {"Version": "2012-10-17", "Statement": []}, "VersionId": "v1"}}`))
					require.NoError(t, err)
					files = append(files, f)
					continue
				}
				files = append(files, parseFile(t, n))
			}
			_, err := Build(files, tc.opts)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// newLab is a store and the IAM API over it, as a target whose accounts'
// admins are made on demand and whose fixtures load AWS managed
// policies, as the lab's admin API does both.
func newLab(t *testing.T) (*awsiam.IAM, Target) {
	t.Helper()
	store, err := awsiam.New(awsiam.Options{})
	require.NoError(t, err)
	srv, err := awsiamapi.NewServer(awsiamapi.ServerOptions{IAM: store})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	return store, Target{
		Clients: func(account string) (API, error) {
			creds, err := store.EnsureAdmin(account)
			if err != nil {
				return nil, err
			}
			return NewClient(srv.URL(), srv.Client(), aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}), nil
		},
		LoadAWSManaged: func(_ context.Context, fixture []byte) error { return store.LoadFixtureYAML("import", fixture) },
	}
}

// An import makes the entities through the IAM API; run again on edited
// files it updates them in place.
func TestApply(t *testing.T) {
	ctx := context.Background()
	store, target := newLab(t)
	names := []string{"get-role.json", "get-role-policy.json", "list-attached-role-policies.json", "MyPolicy.json", "get-open-id-connect-provider.json"}
	var files []*File
	for _, n := range names {
		files = append(files, parseFile(t, n))
	}
	p, err := Build(files, Options{})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, Apply(ctx, p, target, &out))
	require.Equal(t, "created OIDC provider arn:aws:iam::123456789012:oidc-provider/server.example.com\n"+
		"created policy arn:aws:iam::123456789012:policy/MyPolicy\n"+
		"created role arn:aws:iam::123456789012:role/Test-Role\n"+
		"put inline policy ExamplePolicy of role Test-Role in 123456789012\n"+
		"attached arn:aws:iam::123456789012:policy/MyPolicy to role Test-Role\n", out.String())

	r, err := store.GetRole("123456789012", "Test-Role")
	require.NoError(t, err)
	require.Equal(t, testTrust, string(r.TrustPolicy.Raw))
	require.Equal(t, map[string]string{"Team": "Payments"}, r.Tags)
	require.Equal(t, []string{"arn:aws:iam::123456789012:policy/MyPolicy"}, r.ManagedPolicyARNs)
	require.Contains(t, r.InlinePolicies, "ExamplePolicy")
	prov, err := store.OIDCProvider("123456789012", "https://server.example.com")
	require.NoError(t, err)
	require.Equal(t, []string{"example-application-ID"}, prov.ClientIDs)

	// Edited and imported again: updated, not EntityAlreadyExists.
	files[0].Role.TrustPolicy = strings.ReplaceAll(files[0].Role.TrustPolicy, "my-app", "other-app")
	files[0].Role.Description = "edited"
	files[3].Version = `{"Version":"2012-10-17","Statement":[{"Action":"iam:Get*","Resource":"*","Effect":"Allow"}]}`
	files[4].Provider.ClientIDs = []string{"sts.amazonaws.com"}
	p, err = Build(files, Options{})
	require.NoError(t, err)
	out.Reset()
	require.NoError(t, Apply(ctx, p, target, &out))
	require.Contains(t, out.String(), "updated OIDC provider arn:aws:iam::123456789012:oidc-provider/server.example.com\n")
	require.Contains(t, out.String(), "updated policy arn:aws:iam::123456789012:policy/MyPolicy: default version v2\n")
	require.Contains(t, out.String(), "updated role arn:aws:iam::123456789012:role/Test-Role\n")
	r, err = store.GetRole("123456789012", "Test-Role")
	require.NoError(t, err)
	require.Contains(t, string(r.TrustPolicy.Raw), "system:serviceaccount:default:other-app")
	require.Equal(t, "edited", r.Description)
	mp, err := store.ManagedPolicy("arn:aws:iam::123456789012:policy/MyPolicy")
	require.NoError(t, err)
	require.Contains(t, string(mp.Document.Raw), "iam:Get*")
	prov, err = store.OIDCProvider("123456789012", "https://server.example.com")
	require.NoError(t, err)
	require.Equal(t, []string{"example-application-ID", "sts.amazonaws.com"}, prov.ClientIDs, "client IDs are added, none removed")

	// Unchanged: the policy is left alone.
	out.Reset()
	require.NoError(t, Apply(ctx, p, target, &out))
	require.Contains(t, out.String(), "policy arn:aws:iam::123456789012:policy/MyPolicy is up to date\n")

	// An AWS managed policy the lab does not hold cannot be attached...
	p, err = Build([]*File{files[0], parseFile(t, "list-attached-aws-managed.json")}, Options{})
	require.NoError(t, err)
	err = Apply(ctx, p, target, &out)
	require.ErrorContains(t, err, "attach arn:aws:iam::aws:policy/SecurityAudit to role Test-Role")
	require.ErrorContains(t, err, "the lab holds the AWS managed policies its fixtures load")
	// ... until the import brings its document, which the lab loads once.
	version, err := Parse("SecurityAudit.json", []byte(`{"PolicyVersion": {"Document": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}]}, "VersionId": "v1"}}`))
	require.NoError(t, err)
	p, err = Build([]*File{files[0], parseFile(t, "list-attached-aws-managed.json"), version}, Options{})
	require.NoError(t, err)
	out.Reset()
	require.NoError(t, Apply(ctx, p, target, &out))
	require.Contains(t, out.String(), "loaded AWS managed policy arn:aws:iam::aws:policy/SecurityAudit\n")
	require.Contains(t, out.String(), "attached arn:aws:iam::aws:policy/SecurityAudit to role Test-Role\n")
	out.Reset()
	require.NoError(t, Apply(ctx, p, target, &out))
	require.Contains(t, out.String(), "AWS managed policy arn:aws:iam::aws:policy/SecurityAudit is in the lab: kept as it is\n")
	mp, err = store.ManagedPolicy("arn:aws:iam::aws:policy/SecurityAudit")
	require.NoError(t, err)
	require.Contains(t, string(mp.Document.Raw), "iam:Get*")
	require.Equal(t, []string{"123456789012"}, store.Accounts())

	// A target without the admin API cannot load it.
	p, err = Build([]*File{parseFile(t, "list-attached-aws-managed.json"), func() *File {
		v := *version
		v.Name = "SecurityAudit.json"
		return &v
	}()}, Options{Role: "Test-Role", Account: "123456789012"})
	require.NoError(t, err)
	_, t2 := newLab(t)
	t2.LoadAWSManaged = nil
	require.ErrorContains(t, Apply(ctx, p, t2, &out), "AWS managed policy arn:aws:iam::aws:policy/SecurityAudit is not in the lab, and no IAM API can create it")
}

// FuzzParse: any bytes parse or fail with the file named, and a parsed
// file builds or fails, without panicking.
func FuzzParse(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	require.NoError(f, err)
	for _, e := range entries {
		if raw, err := os.ReadFile(filepath.Join("testdata", e.Name())); err == nil && !e.IsDir() {
			f.Add(e.Name(), raw)
		}
	}
	f.Add("x.json", []byte(`{"Role":{"Arn":"arn:aws:iam::123456789012:role/a/b/c","AssumeRolePolicyDocument":"%7B%7D"}}`))
	f.Fuzz(func(t *testing.T, name string, raw []byte) {
		file, err := Parse(name, raw)
		if err != nil {
			require.ErrorContains(t, err, name)
			return
		}
		_, _ = Build([]*File{file}, Options{Account: "123456789012", Role: "r"})
	})
}
