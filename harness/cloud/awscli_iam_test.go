package cloud

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/oidc"
)

// iamFixture: account 111111111111 with the test issuer as an OIDC
// provider, a bucket to read, and one role from fixtures that the IAM API
// then deletes.
const iamFixture = `accounts:
  - id: "111111111111"
    oidcProviders:
      - url: ` + testIssuer + `
        clientIDs: [sts.amazonaws.com]
    roles:
      - name: from-fixtures
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Federated: "arn:aws:iam::111111111111:oidc-provider/` + testHost + `"}
              Action: sts:AssumeRoleWithWebIdentity
    buckets:
      - name: reports-a
        region: us-west-2
        objects: {q1.csv: "id,total\n1,42\n"}
`

// trustFor is a web-identity trust policy for one service account of the
// test issuer.
func trustFor(sa string) string {
	return `{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"Federated": "arn:aws:iam::111111111111:oidc-provider/` + testHost + `"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {"StringEquals": {"` + testHost + `:sub": "system:serviceaccount:` + sa + `"}}
  }]
}`
}

// newAdminCLIEnv runs awscli as the lab's IAM admin of account: the
// profile idlab-ACCOUNT of the admin credentials file idlab serve wrote,
// no web identity.
func newAdminCLIEnv(t *testing.T, c *Cloud, account string) *cliEnv {
	t.Helper()
	e := newCLIEnv(t, c, "unused", "arn:aws:iam::"+account+":role/unused")
	env := e.env[:0]
	for _, kv := range e.env {
		if !strings.HasPrefix(kv, "AWS_WEB_IDENTITY_TOKEN_FILE=") && !strings.HasPrefix(kv, "AWS_ROLE_") &&
			!strings.HasPrefix(kv, "AWS_SHARED_CREDENTIALS_FILE=") {
			env = append(env, kv)
		}
	}
	e.env = append(env, "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(c.cfg.DataDir, "iam", awsiam.AdminCredentialsFile),
		"AWS_PROFILE="+awsiam.AdminProfilePrefix+account)
	return e
}

// forgetCredentials empties awscli's credential cache (~/.aws/cli/cache,
// where awscli 2 keeps the sessions of web identity): the next call
// assumes the role again, as a new pod would.
func (e *cliEnv) forgetCredentials() {
	e.t.Helper()
	for _, kv := range e.env {
		if home, ok := strings.CutPrefix(kv, "HOME="); ok {
			require.NoError(e.t, os.RemoveAll(filepath.Join(home, ".aws", "cli", "cache")))
			return
		}
	}
	e.t.Fatal("awscli env without HOME")
}

// fail runs awscli expecting it to fail and returns its stderr.
func (e *cliEnv) fail(args ...string) string {
	e.t.Helper()
	out, errs, code := e.run(args...)
	require.NotEqual(e.t, 0, code, "aws %s succeeded: %s", strings.Join(args, " "), out)
	return errs
}

// writeFile writes content to a file in a temporary directory and returns
// its file:// URL for awscli.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return "file://" + p
}

// TestAWSCLIIAMRoleLifecycle drives Debian's awscli through iam.amazonaws.com
// as the lab's admin: a role made, read, refused twice, given a policy,
// assumed by a pod and used at S3 at once, its trust narrowed so the pod
// is refused, simulated, and deleted only once its policies are gone;
// then what a pod's own role may not do at IAM.
func TestAWSCLIIAMRoleLifecycle(t *testing.T) {
	t.Parallel() // each runs awscli some 20-50 times against a cloud of its own
	c, minter := startCloudWith(t, iamFixture)
	admin := newAdminCLIEnv(t, c, "111111111111")
	mint := func(ns, sa string) string {
		tok, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: ns, ServiceAccount: sa, Audiences: []string{"sts.amazonaws.com"}})
		require.NoError(t, err)
		return tok
	}

	var who struct{ Arn string }
	require.NoError(t, json.Unmarshal([]byte(admin.ok("sts", "get-caller-identity", "--output", "json")), &who))
	require.Equal(t, "arn:aws:iam::111111111111:user/idlab/idlab-admin", who.Arn)

	trust := writeFile(t, "trust.json", trustFor("a:reader"))
	var created struct {
		Role struct{ RoleName, Arn, Path, RoleId string }
	}
	require.NoError(t, json.Unmarshal([]byte(admin.ok("iam", "create-role", "--role-name", "reader", "--assume-role-policy-document", trust,
		"--description", "reads reports", "--tags", "Key=team,Value=a", "--output", "json")), &created))
	require.Equal(t, "arn:aws:iam::111111111111:role/reader", created.Role.Arn)
	require.Regexp(t, `^AROA[A-Z2-7]{17}$`, created.Role.RoleId)

	errs := admin.fail("iam", "create-role", "--role-name", "READER", "--assume-role-policy-document", trust)
	require.Contains(t, errs, "An error occurred (EntityAlreadyExists) when calling the CreateRole operation: Role with name READER already exists.")

	// get-role: awscli decodes the URL-encoded trust policy into JSON.
	var got struct {
		Role struct {
			RoleName, Description    string
			MaxSessionDuration       int
			AssumeRolePolicyDocument map[string]any
			Tags                     []struct{ Key, Value string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(admin.ok("iam", "get-role", "--role-name", "reader", "--output", "json")), &got))
	require.Equal(t, "reads reports", got.Role.Description)
	require.Equal(t, 3600, got.Role.MaxSessionDuration)
	require.Equal(t, "2012-10-17", got.Role.AssumeRolePolicyDocument["Version"])
	require.Equal(t, []struct{ Key, Value string }{{"team", "a"}}, got.Role.Tags)

	admin.ok("iam", "put-role-policy", "--role-name", "reader", "--policy-name", "read-reports", "--policy-document",
		writeFile(t, "read.json", `{"Version":"2012-10-17","Statement":[{"Sid":"ReadReports","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports-a/*"}]}`))
	var rp struct {
		RoleName, PolicyName string
		PolicyDocument       struct{ Statement []struct{ Sid string } }
	}
	require.NoError(t, json.Unmarshal([]byte(admin.ok("iam", "get-role-policy", "--role-name", "reader", "--policy-name", "read-reports", "--output", "json")), &rp))
	require.Equal(t, "ReadReports", rp.PolicyDocument.Statement[0].Sid)

	// The pod assumes the new role and reads at S3 at once: one store.
	pod := newCLIEnv(t, c, mint("a", "reader"), "arn:aws:iam::111111111111:role/reader")
	require.Equal(t, "id,total\n1,42\n", pod.ok("s3", "cp", "s3://reports-a/q1.csv", "-"))

	// Narrow the trust to another service account: the session the pod
	// holds lives on, as on AWS, but a new one is refused.
	admin.ok("iam", "update-assume-role-policy", "--role-name", "reader", "--policy-document", writeFile(t, "trust2.json", trustFor("b:reader")))
	require.Equal(t, "id,total\n1,42\n", pod.ok("s3", "cp", "s3://reports-a/q1.csv", "-"))
	pod.forgetCredentials()
	errs = pod.fail("s3", "cp", "s3://reports-a/q1.csv", "-")
	require.Contains(t, errs, "An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation")
	other := newCLIEnv(t, c, mint("b", "reader"), "arn:aws:iam::111111111111:role/reader")
	require.Equal(t, "id,total\n1,42\n", other.ok("s3", "cp", "s3://reports-a/q1.csv", "-"))

	// A pod's role has no iam:* permission: IAM refuses it in AWS's words.
	errs = other.fail("iam", "list-roles")
	require.Contains(t, errs, "An error occurred (AccessDenied) when calling the ListRoles operation: User: arn:aws:sts::111111111111:assumed-role/reader/awscli "+
		"is not authorized to perform: iam:ListRoles on resource: arn:aws:iam::111111111111:role/ because no identity-based policy allows the iam:ListRoles action")

	// The simulator names the statement that decided, with its position.
	var sim struct {
		EvaluationResults []struct {
			EvalActionName, EvalResourceName, EvalDecision string
			MatchedStatements                              []struct {
				SourcePolicyId, SourcePolicyType string
				StartPosition, EndPosition       struct{ Line, Column int }
			}
		}
	}
	require.NoError(t, json.Unmarshal([]byte(admin.ok("iam", "simulate-principal-policy", "--policy-source-arn", "arn:aws:iam::111111111111:role/reader",
		"--action-names", "s3:GetObject", "s3:PutObject", "--resource-arns", "arn:aws:s3:::reports-a/q1.csv", "--output", "json")), &sim))
	require.Len(t, sim.EvaluationResults, 2)
	get, put := sim.EvaluationResults[0], sim.EvaluationResults[1]
	require.Equal(t, "s3:GetObject", get.EvalActionName)
	require.Equal(t, "allowed", get.EvalDecision)
	require.Len(t, get.MatchedStatements, 1)
	require.Equal(t, "read-reports", get.MatchedStatements[0].SourcePolicyId)
	require.Equal(t, "role", get.MatchedStatements[0].SourcePolicyType)
	require.Equal(t, struct{ Line, Column int }{1, 38}, get.MatchedStatements[0].StartPosition)
	require.Equal(t, "implicitDeny", put.EvalDecision)
	require.Empty(t, put.MatchedStatements)

	// Deleting asks for the policies to go first, as IAM does.
	errs = admin.fail("iam", "delete-role", "--role-name", "reader")
	require.Contains(t, errs, "An error occurred (DeleteConflict) when calling the DeleteRole operation: Cannot delete entity, must delete policies first.")
	admin.ok("iam", "delete-role-policy", "--role-name", "reader", "--policy-name", "read-reports")
	admin.ok("iam", "delete-role", "--role-name", "reader")
	errs = admin.fail("iam", "get-role", "--role-name", "reader")
	require.Contains(t, errs, "An error occurred (NoSuchEntity) when calling the GetRole operation: The role with name reader cannot be found.")
	// The session of the deleted role has no policy left; a new one none at all.
	errs = other.fail("s3", "cp", "s3://reports-a/q1.csv", "-")
	require.Contains(t, errs, "An error occurred (403) when calling the HeadObject operation: Forbidden")
	other.forgetCredentials()
	errs = other.fail("s3", "cp", "s3://reports-a/q1.csv", "-")
	require.Contains(t, errs, "An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation")

	// The IAM decisions are in the lab's decision log.
	status, body := adminDo(t, c, "GET", "/_idlab/decisions?cloud=aws&effect=ImplicitDeny", "")
	require.Equal(t, 200, status)
	require.Contains(t, body, `"action":"iam:ListRoles"`)
}

// TestAWSCLIIAMPoliciesProvidersAndKeys: managed policies with versions,
// an OIDC provider edited in place, and a user's static keys used at S3,
// disabled and deleted.
func TestAWSCLIIAMPoliciesProvidersAndKeys(t *testing.T) {
	t.Parallel() // each runs awscli some 20-50 times against a cloud of its own
	c, _ := startCloudWith(t, iamFixture)
	admin := newAdminCLIEnv(t, c, "111111111111")

	doc := func(action string) string {
		return writeFile(t, "p.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"`+action+`","Resource":"*"}]}`)
	}
	var pol struct {
		Policy struct{ Arn, DefaultVersionId string }
	}
	require.NoError(t, json.Unmarshal([]byte(admin.ok("iam", "create-policy", "--policy-name", "list-buckets", "--policy-document", doc("s3:ListAllMyBuckets"), "--output", "json")), &pol))
	require.Equal(t, "arn:aws:iam::111111111111:policy/list-buckets", pol.Policy.Arn)
	require.Equal(t, "v1", pol.Policy.DefaultVersionId)
	var ver struct{ PolicyVersion struct{ VersionId string } }
	require.NoError(t, json.Unmarshal([]byte(admin.ok("iam", "create-policy-version", "--policy-arn", pol.Policy.Arn, "--policy-document", doc("s3:List*"), "--set-as-default", "--output", "json")), &ver))
	require.Equal(t, "v2", ver.PolicyVersion.VersionId)
	var pv struct {
		PolicyVersion struct {
			Document         struct{ Statement []struct{ Action string } }
			IsDefaultVersion bool
		}
	}
	require.NoError(t, json.Unmarshal([]byte(admin.ok("iam", "get-policy-version", "--policy-arn", pol.Policy.Arn, "--version-id", "v2", "--output", "json")), &pv))
	require.True(t, pv.PolicyVersion.IsDefaultVersion)
	require.Equal(t, "s3:List*", pv.PolicyVersion.Document.Statement[0].Action)

	// A user with static keys, refused at S3 until the policy is attached.
	admin.ok("iam", "create-user", "--user-name", "ci")
	var key struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey, Status string }
	}
	require.NoError(t, json.Unmarshal([]byte(admin.ok("iam", "create-access-key", "--user-name", "ci", "--output", "json")), &key))
	require.Equal(t, "Active", key.AccessKey.Status)
	ci := newAdminCLIEnv(t, c, "111111111111")
	ci.env = append(ci.env, "AWS_ACCESS_KEY_ID="+key.AccessKey.AccessKeyId, "AWS_SECRET_ACCESS_KEY="+key.AccessKey.SecretAccessKey)
	require.Contains(t, ci.fail("s3", "ls"), "An error occurred (AccessDenied) when calling the ListBuckets operation")
	admin.ok("iam", "attach-user-policy", "--user-name", "ci", "--policy-arn", pol.Policy.Arn)
	require.Contains(t, ci.ok("s3", "ls"), "reports-a")
	var attached struct {
		AttachedPolicies []struct{ PolicyName, PolicyArn string }
	}
	require.NoError(t, json.Unmarshal([]byte(admin.ok("iam", "list-attached-user-policies", "--user-name", "ci", "--output", "json")), &attached))
	require.Equal(t, []struct{ PolicyName, PolicyArn string }{{"list-buckets", pol.Policy.Arn}}, attached.AttachedPolicies)
	require.Contains(t, admin.fail("iam", "delete-policy", "--policy-arn", pol.Policy.Arn), "(DeleteConflict) when calling the DeletePolicy operation: Cannot delete a policy attached to entities.")

	admin.ok("iam", "update-access-key", "--user-name", "ci", "--access-key-id", key.AccessKey.AccessKeyId, "--status", "Inactive")
	require.Contains(t, ci.fail("s3", "ls"), "(InvalidAccessKeyId)")
	require.Contains(t, admin.fail("iam", "delete-user", "--user-name", "ci"), "(DeleteConflict) when calling the DeleteUser operation: Cannot delete entity, must delete access keys first.")
	admin.ok("iam", "delete-access-key", "--user-name", "ci", "--access-key-id", key.AccessKey.AccessKeyId)
	admin.ok("iam", "detach-user-policy", "--user-name", "ci", "--policy-arn", pol.Policy.Arn)
	admin.ok("iam", "delete-user", "--user-name", "ci")

	// An OIDC provider, edited in place.
	var prov struct{ OpenIDConnectProviderArn string }
	require.NoError(t, json.Unmarshal([]byte(admin.ok("iam", "create-open-id-connect-provider", "--url", "https://token.actions.githubusercontent.com",
		"--client-id-list", "sts.amazonaws.com", "--thumbprint-list", "6938fd4d98bab03faadb97b34396831e3780aea1", "--output", "json")), &prov))
	require.Equal(t, "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com", prov.OpenIDConnectProviderArn)
	admin.ok("iam", "add-client-id-to-open-id-connect-provider", "--open-id-connect-provider-arn", prov.OpenIDConnectProviderArn, "--client-id", "my-app")
	admin.ok("iam", "remove-client-id-from-open-id-connect-provider", "--open-id-connect-provider-arn", prov.OpenIDConnectProviderArn, "--client-id", "sts.amazonaws.com")
	admin.ok("iam", "update-open-id-connect-provider-thumbprint", "--open-id-connect-provider-arn", prov.OpenIDConnectProviderArn,
		"--thumbprint-list", "1c58a3a8518e8759bf075b76b750d4f2df264fcd")
	var gp struct {
		Url                          string
		ClientIDList, ThumbprintList []string
	}
	require.NoError(t, json.Unmarshal([]byte(admin.ok("iam", "get-open-id-connect-provider", "--open-id-connect-provider-arn", prov.OpenIDConnectProviderArn, "--output", "json")), &gp))
	require.Equal(t, "token.actions.githubusercontent.com", gp.Url)
	require.Equal(t, []string{"my-app"}, gp.ClientIDList)
	require.Equal(t, []string{"1c58a3a8518e8759bf075b76b750d4f2df264fcd"}, gp.ThumbprintList)
	require.Contains(t, admin.ok("iam", "list-open-id-connect-providers", "--output", "json"), prov.OpenIDConnectProviderArn)
	require.Contains(t, admin.fail("iam", "create-open-id-connect-provider", "--url", "https://token.actions.githubusercontent.com", "--thumbprint-list", "6938fd4d98bab03faadb97b34396831e3780aea1"),
		"(EntityAlreadyExists) when calling the CreateOpenIDConnectProvider operation: Provider with url https://token.actions.githubusercontent.com already exists.")
	admin.ok("iam", "delete-open-id-connect-provider", "--open-id-connect-provider-arn", prov.OpenIDConnectProviderArn)
	require.NotContains(t, admin.ok("iam", "list-open-id-connect-providers"), "githubusercontent")

	// Malformed input, in IAM's codes.
	require.Contains(t, admin.fail("iam", "create-role", "--role-name", "bad name", "--assume-role-policy-document", writeFile(t, "t.json", trustFor("a:b"))),
		"(ValidationError) when calling the CreateRole operation: 1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+")
	require.Contains(t, admin.fail("iam", "create-role", "--role-name", "r", "--assume-role-policy-document", doc("s3:GetObject")),
		"(MalformedPolicyDocument) when calling the CreateRole operation: Missing required field Principal")
}

// TestIAMChangesSurviveARestart: what the IAM API made, changed and
// deleted is there after idlab serve restarts on the same data dir, over
// the same fixtures, and the admin keeps its key.
func TestIAMChangesSurviveARestart(t *testing.T) {
	c, _ := startCloudWith(t, iamFixture)
	admin := newAdminCLIEnv(t, c, "111111111111")
	admin.ok("iam", "create-role", "--role-name", "made", "--assume-role-policy-document", writeFile(t, "t.json", trustFor("a:made")))
	admin.ok("iam", "put-role-policy", "--role-name", "made", "--policy-name", "p", "--policy-document",
		writeFile(t, "p.json", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`))
	admin.ok("iam", "delete-role", "--role-name", "from-fixtures")
	creds, err := os.ReadFile(filepath.Join(c.cfg.DataDir, "iam", awsiam.AdminCredentialsFile))
	require.NoError(t, err)

	cfg := c.cfg
	require.NoError(t, c.Close(context.Background()))
	cfg.AdminListen = "unix:" + filepath.Join(socketDir(t), "admin.sock")
	again, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = again.Close(context.Background()) })

	r, err := again.IAM.GetRole("111111111111", "made")
	require.NoError(t, err)
	require.Contains(t, string(r.TrustPolicy.Raw), "system:serviceaccount:a:made")
	require.Contains(t, r.InlinePolicies, "p")
	_, err = again.IAM.GetRole("111111111111", "from-fixtures")
	require.ErrorIs(t, err, awsiam.ErrNoSuchEntity, "the fixture's role stays deleted")
	after, err := os.ReadFile(filepath.Join(cfg.DataDir, "iam", awsiam.AdminCredentialsFile))
	require.NoError(t, err)
	require.Equal(t, string(creds), string(after), "the admin keeps its key")
}
