package awsiamapi_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awsiamapi"
)

// sdkClient is aws-sdk-go-v2's IAM client as the account's lab admin, on
// its default endpoint (https://iam.amazonaws.com), which the server's
// client dials.
func sdkClient(t *testing.T) (*iam.Client, *awsiam.IAM) {
	t.Helper()
	store, err := awsiam.New(awsiam.Options{})
	require.NoError(t, err)
	creds, err := store.EnsureAdmin("123456789012")
	require.NoError(t, err)
	srv, err := awsiamapi.NewServer(awsiamapi.ServerOptions{IAM: store})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	return iam.New(iam.Options{Region: "us-east-1", HTTPClient: srv.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")}), store
}

const sdkTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.example.com"},` +
	`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"oidc.example.com:sub":"system:serviceaccount:a:b"}}}]}`

// The SDK's typed answers and typed errors, for each kind of entity.
func TestSDK(t *testing.T) {
	ctx := context.Background()
	c, store := sdkClient(t)

	out, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(sdkTrust),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})
	require.NoError(t, err)
	require.Equal(t, "arn:aws:iam::123456789012:role/app", aws.ToString(out.Role.Arn))
	_, err = c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(sdkTrust)})
	var exists *types.EntityAlreadyExistsException
	require.ErrorAs(t, err, &exists)

	got, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("app")})
	require.NoError(t, err)
	doc, err := url.QueryUnescape(aws.ToString(got.Role.AssumeRolePolicyDocument))
	require.NoError(t, err)
	require.Equal(t, sdkTrust, doc, "the document comes back URL-encoded, as on AWS")
	require.Equal(t, int32(3600), aws.ToInt32(got.Role.MaxSessionDuration))
	require.Equal(t, []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}, got.Role.Tags)
	require.NotNil(t, got.Role.CreateDate)

	_, err = c.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String("app"), Description: aws.String("d"), MaxSessionDuration: aws.Int32(7200)})
	require.NoError(t, err)

	_, err = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("nope")})
	var missing *types.NoSuchEntityException
	require.ErrorAs(t, err, &missing)
	require.Equal(t, "The role with name nope cannot be found.", aws.ToString(missing.Message))

	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("read"), PolicyDocument: aws.String(`{"Statement":[}`)})
	var malformed *types.MalformedPolicyDocumentException
	require.ErrorAs(t, err, &malformed)
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("read"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)})
	require.NoError(t, err)
	_, err = c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("app")})
	var conflict *types.DeleteConflictException
	require.ErrorAs(t, err, &conflict)

	pol, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("list"), Path: aws.String("/team/"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:List*","Resource":"*"}]}`)})
	require.NoError(t, err)
	require.Equal(t, "arn:aws:iam::123456789012:policy/team/list", aws.ToString(pol.Policy.Arn))
	_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: pol.Policy.Arn})
	require.NoError(t, err)
	var attached []string
	for p := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("app")}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		for _, a := range page.AttachedPolicies {
			attached = append(attached, aws.ToString(a.PolicyArn))
		}
	}
	require.Equal(t, []string{"arn:aws:iam::123456789012:policy/team/list"}, attached)
	for range 4 {
		_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: pol.Policy.Arn,
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:List*","Resource":"*"}]}`)})
		require.NoError(t, err)
	}
	_, err = c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: pol.Policy.Arn, PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:List*","Resource":"*"}]}`)})
	var limit *types.LimitExceededException
	require.ErrorAs(t, err, &limit)

	prov, err := c.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://oidc.example.com"),
		ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"}})
	require.NoError(t, err)
	gp, err := c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: prov.OpenIDConnectProviderArn})
	require.NoError(t, err)
	require.Equal(t, "oidc.example.com", aws.ToString(gp.Url))
	require.Equal(t, []string{"sts.amazonaws.com"}, gp.ClientIDList)
	p, err := store.OIDCProvider("123456789012", "https://oidc.example.com")
	require.NoError(t, err, "STS finds the provider the API made")
	require.Equal(t, []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"}, p.Thumbprints)

	_, err = c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ci")})
	require.NoError(t, err)
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ci")})
	require.NoError(t, err)
	require.Equal(t, types.StatusTypeActive, key.AccessKey.Status)
	keys, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("ci")})
	require.NoError(t, err)
	require.Len(t, keys.AccessKeyMetadata, 1)
	require.Equal(t, aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(keys.AccessKeyMetadata[0].AccessKeyId))
	_, _, err = store.LookupAccessKey(aws.ToString(key.AccessKey.AccessKeyId))
	require.NoError(t, err, "the new key authenticates at every AWS emulator")

	sim, err := c.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::123456789012:role/app"),
		ActionNames: []string{"s3:GetObject", "s3:ListBucket", "s3:DeleteObject"}})
	require.NoError(t, err)
	require.Len(t, sim.EvaluationResults, 3)
	require.Equal(t, types.PolicyEvaluationDecisionTypeAllowed, sim.EvaluationResults[0].EvalDecision)
	require.Equal(t, "read", aws.ToString(sim.EvaluationResults[0].MatchedStatements[0].SourcePolicyId))
	require.Equal(t, types.PolicySourceTypeRole, sim.EvaluationResults[0].MatchedStatements[0].SourcePolicyType)
	require.Equal(t, types.PolicyEvaluationDecisionTypeAllowed, sim.EvaluationResults[1].EvalDecision)
	require.Equal(t, "list", aws.ToString(sim.EvaluationResults[1].MatchedStatements[0].SourcePolicyId))
	require.Equal(t, types.PolicySourceTypeUserManaged, sim.EvaluationResults[1].MatchedStatements[0].SourcePolicyType)
	require.Equal(t, types.PolicyEvaluationDecisionTypeImplicitDeny, sim.EvaluationResults[2].EvalDecision)
	require.Empty(t, sim.EvaluationResults[2].MatchedStatements)
}

// ListRoles pages through the SDK's paginator.
func TestSDKPaginator(t *testing.T) {
	ctx := context.Background()
	c, _ := sdkClient(t)
	for _, n := range []string{"r1", "r2", "r3", "r4", "r5"} {
		_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(n), AssumeRolePolicyDocument: aws.String(sdkTrust)})
		require.NoError(t, err)
	}
	var names []string
	pages := 0
	for p := iam.NewListRolesPaginator(c, &iam.ListRolesInput{MaxItems: aws.Int32(2)}); p.HasMorePages(); pages++ {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		for _, r := range page.Roles {
			names = append(names, aws.ToString(r.RoleName))
		}
	}
	require.Equal(t, []string{"r1", "r2", "r3", "r4", "r5"}, names)
	require.Equal(t, 3, pages)

	// A caller that is not allowed gets AccessDenied, the SDK's generic
	// API error.
	store, err := awsiam.New(awsiam.Options{})
	require.NoError(t, err)
	require.NoError(t, store.AddUser(awsiam.User{Account: "123456789012", Name: "nobody"}))
	creds, err := store.CreateAccessKey("123456789012", "nobody")
	require.NoError(t, err)
	srv, err := awsiamapi.NewServer(awsiamapi.ServerOptions{IAM: store})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	nobody := iam.New(iam.Options{Region: "us-east-1", HTTPClient: srv.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")})
	_, err = nobody.ListRoles(ctx, &iam.ListRolesInput{})
	var denied interface{ ErrorCode() string }
	require.True(t, errors.As(err, &denied))
	require.Equal(t, "AccessDenied", denied.ErrorCode())
}
