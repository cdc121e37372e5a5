package myappbug_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/explain"
	"github.com/idlab/idlab/harness/iamimport"
	"github.com/idlab/idlab/idlabtest"
)

// TestFilesHoldTheBug: the files are what the tests say they are. The role
// and its provider parse as idlab iam import reads them; the trust policy
// names the default lab's eks issuer (make up), so the example needs no
// lab file; the service account's annotation names the role; and the
// trust policy's :sub is wrong for the Deployment's service account only
// by the namespace, which the fix corrects and changes nothing else.
func TestFilesHoldTheBug(t *testing.T) {
	a := readApp(t)
	role, plan := iamFiles(t)
	require.Len(t, plan.Roles, 1)
	require.Len(t, plan.Inline, 1, "the role's permission policy")
	require.Len(t, plan.Providers, 1, "the OIDC provider the trust policy names, in the role's account")
	require.Equal(t, role.Account, plan.Providers[0].Account)
	require.Equal(t, "arn:aws:iam::"+role.Account+":role"+role.Path+role.Name, a.roleARN, "the service account's role-arn annotation names the role")

	bug := parseTrust(t, role.TrustPolicy)
	require.Equal(t, plan.Providers[0].ARN(), bug.provider, "the trust policy's Federated principal is the imported provider")
	require.Equal(t, "oidc.eks."+harness.LabRegion+".amazonaws.com/id/"+harness.IssuerID("eks"), bug.host, "the default lab's eks issuer")
	require.Equal(t, "sts.amazonaws.com", bug.aud)
	require.NotEqual(t, a.subject(), bug.sub, "the bug: the trust policy names another service account")
	require.Equal(t, "system:serviceaccount:payment:"+a.serviceAccount, bug.sub, "the namespace typo the README describes")

	fixed := parseTrust(t, readFix(t))
	require.Equal(t, a.subject(), fixed.sub, "the fix names the Deployment's service account")
	fixed.sub = bug.sub
	require.Equal(t, bug, fixed, "the fix changes the :sub and nothing else")
}

// TestReproduceInProcess is the e2e test's chain with no cluster: idlab's
// emulators in this process (idlabtest) host the eks issuer, the user's
// files are imported through the IAM API as idlab iam import does, and a
// token of the Deployment's service account is refused by STS with
// AccessDenied, the decision naming the :sub condition, until the fix is
// put with UpdateAssumeRolePolicy; then the same SDK config gets the role.
func TestReproduceInProcess(t *testing.T) {
	ctx := t.Context()
	a := readApp(t)
	role, plan := iamFiles(t)
	bug := parseTrust(t, role.TrustPolicy)
	c := idlabtest.NewCloud(t, idlabtest.CloudOptions{Issuers: []string{"https://" + bug.host}})

	admin := func(_ context.Context, account string) (aws.Credentials, error) {
		status, body := c.Admin(http.MethodPost, "/_idlab/iam/admins/"+account, "")
		if status != http.StatusOK {
			return aws.Credentials{}, errors.New(body)
		}
		var k struct{ AccessKeyId, SecretAccessKey string }
		err := json.Unmarshal([]byte(body), &k)
		return aws.Credentials{AccessKeyID: k.AccessKeyId, SecretAccessKey: k.SecretAccessKey}, err
	}
	var out strings.Builder
	require.NoError(t, iamimport.Apply(ctx, plan, iamimport.Target{Clients: iamimport.Clients(ctx, c.URL(), c.Client(), admin)}, &out))
	t.Logf("import:\n%s", out.String())

	tokenFile, err := c.TokenFile("https://"+bug.host, a.namespace, a.serviceAccount)
	require.NoError(t, err)
	client := sts.NewFromConfig(c.Config(a.roleARN, tokenFile))
	_, err = client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae, "STS refuses the app's token")
	require.Equal(t, "AccessDenied", ae.ErrorCode())

	deny := lastDecision(t, c, a.roleARN)
	require.Equal(t, string(awsiam.ImplicitDeny), deny.Effect, "no statement allows it: the trust policy has no Deny")
	var why strings.Builder
	require.NoError(t, explain.Chain(&why, deny))
	t.Logf("idlab explain %s:\n%s", deny.RequestID, why.String())
	require.Contains(t, why.String(), subMismatch(bug.host, bug.sub, a.subject())+": it does not hold")

	creds, err := admin(ctx, role.Account)
	require.NoError(t, err)
	_, err = iamimport.NewClient(c.URL(), c.Client(), creds).UpdateAssumeRolePolicy(ctx,
		&iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(role.Name), PolicyDocument: aws.String(readFix(t))})
	require.NoError(t, err)
	got, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err, "the fix lets the same client in")
	require.Contains(t, aws.ToString(got.Arn), ":assumed-role/"+role.Name+"/")
	require.Equal(t, string(awsiam.Allow), lastDecision(t, c, a.roleARN).Effect)
}

// lastDecision is the newest decision of the in-process cloud on the
// app's web identity into its role.
func lastDecision(t *testing.T, c *idlabtest.Cloud, roleARN string) harness.Decision {
	t.Helper()
	q := harness.DecisionFilter{Action: "sts:AssumeRoleWithWebIdentity", Resource: roleARN}
	status, body := c.Admin(http.MethodGet, "/_idlab/decisions?"+q.Query().Encode(), "")
	require.Equal(t, http.StatusOK, status, body)
	var ds []harness.Decision
	require.NoError(t, json.Unmarshal([]byte(body), &ds))
	require.NotEmpty(t, ds, "STS decided on the app's web identity")
	return ds[len(ds)-1]
}

// TestCalls: the app's log read call by call, as awscli prints its answer
// and its refusal.
func TestCalls(t *testing.T) {
	log := `
An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity
some other line
arn:aws:sts::111122223333:assumed-role/my-app/botocore-session-1765080000
`
	require.Equal(t, []call{
		{code: "AccessDenied", operation: "AssumeRoleWithWebIdentity"},
		{ok: true, arn: "arn:aws:sts::111122223333:assumed-role/my-app/botocore-session-1765080000"},
	}, calls(log))
	require.Empty(t, calls("arn:aws:iam::111122223333:role/my-app\n"), "a role ARN is not an answer of get-caller-identity")
}
