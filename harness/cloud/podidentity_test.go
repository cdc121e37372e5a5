package cloud

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/eksagent"
	"github.com/idlab/idlab/emulators/oidc"
)

// podIdentityTestNode is a node role for these tests alone: the lab's own
// node role and its IMDS belong to the running lab.
const podIdentityTestNode = `
  - id: "123456789012"
    roles:
      - name: podid-test-node
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
        inlinePolicies:
          node:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: eks-auth:AssumeRoleForPodIdentity, Resource: "arn:aws:eks:us-west-2:123456789012:cluster/eks"}]
`

// TestLabPodIdentityDenialsRestOnTheFixture is the test of the
// podidentity suite's deny rows: with fixtures/eks and
// fixtures/aws/podidentity.yaml as shipped, the pods the suite expects
// refused are refused (through the agent, by EKS Auth or S3); with the
// association, trust or tag condition each rests on widened, every one of
// them is allowed.
func TestLabPodIdentityDenialsRestOnTheFixture(t *testing.T) {
	rawAWS, err := os.ReadFile("../../fixtures/aws/podidentity.yaml")
	require.NoError(t, err)
	rawEKS, err := os.ReadFile("../../fixtures/eks/lab.yaml")
	require.NoError(t, err)
	shippedAWS, shippedEKS := string(rawAWS)+podIdentityTestNode, string(rawEKS)

	const ec2Only, tagPrefix = "Principal: {Service: ec2.amazonaws.com}", "podid-shared/${aws:PrincipalTag/kubernetes-namespace}/*"
	require.Equal(t, 1, strings.Count(shippedAWS, "Sid: EC2Only"))
	require.Contains(t, shippedAWS, tagPrefix)
	widenedAWS := strings.Replace(shippedAWS, "Sid: EC2Only\n              Effect: Allow\n              "+ec2Only,
		"Sid: EC2Only\n              Effect: Allow\n              Principal: {Service: [ec2.amazonaws.com, pods.eks.amazonaws.com]}", 1)
	widenedAWS = strings.Replace(widenedAWS, tagPrefix, "podid-shared/*", 1)
	require.NotEqual(t, shippedAWS, widenedAWS)
	require.NotContains(t, widenedAWS, tagPrefix)
	widenedEKS := shippedEKS + `  - {clusterName: eks, namespace: idlab-podid, serviceAccount: other, roleArn: "arn:aws:iam::123456789012:role/podid-app"}
  - {clusterName: eks, namespace: idlab-podid-other, serviceAccount: app, roleArn: "arn:aws:iam::123456789012:role/podid-app"}
`

	rows := []struct {
		name, ns, sa string
		object       string // read with the credentials, when set
		allowed      bool   // with the shipped fixtures
		status       int    // the agent's status when refused
		code         string // the refusal's code in the agent's text
	}{
		{name: "own role", ns: "idlab-podid", sa: "app", allowed: true},
		{name: "own bucket", ns: "idlab-podid", sa: "app", object: "podid-data/hello.txt", allowed: true},
		{name: "own namespace prefix", ns: "idlab-podid", sa: "app", object: "podid-shared/idlab-podid/note.txt", allowed: true},
		{name: "other SA without association", ns: "idlab-podid", sa: "other", status: 404, code: "(ResourceNotFoundException)"},
		{name: "same SA in another namespace", ns: "idlab-podid-other", sa: "app", status: 404, code: "(ResourceNotFoundException)"},
		{name: "role without the pods.eks.amazonaws.com trust", ns: "idlab-podid", sa: "untrusted", status: 400, code: "(AccessDeniedException)"},
		{name: "other namespace's prefix", ns: "idlab-podid", sa: "app", object: "podid-shared/idlab-podid-other/note.txt", code: "AccessDenied"},
	}
	for _, fx := range []struct {
		name     string
		aws, eks string
		widened  bool
	}{{"shipped", shippedAWS, shippedEKS, false}, {"widened", widenedAWS, widenedEKS, true}} {
		t.Run(fx.name, func(t *testing.T) {
			eksDir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(eksDir, "lab.yaml"), []byte(fx.eks), 0o644))
			c, minter := startCloudFor(t, eksIssuer, fx.aws, func(cfg *Config) { cfg.EKSFixtures = eksDir })
			agent := podIdentityAgent(t, c)
			for i, r := range rows {
				tok, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: r.ns, ServiceAccount: r.sa,
					Audiences: []string{"pods.eks.amazonaws.com"}, Pod: &oidc.ObjectRef{Name: "probe", UID: "00000000-0000-4000-8000-00000000000" + string(rune('0'+i))}})
				require.NoError(t, err)
				status, body := agentGet(t, agent, tok)
				want := r.allowed || fx.widened
				switch {
				case r.object != "":
					require.Equal(t, http.StatusOK, status, "%s: credentials first: %s", r.name, body)
				case want:
					require.Equal(t, http.StatusOK, status, "%s with the %s fixtures: %s", r.name, fx.name, body)
					continue
				default:
					require.Equal(t, r.status, status, "%s with the %s fixtures: %s", r.name, fx.name, body)
					require.Contains(t, body, r.code)
					continue
				}
				var creds eksagent.Response
				require.NoError(t, json.Unmarshal([]byte(body), &creds))
				bucket, key, _ := strings.Cut(r.object, "/")
				s3c := s3.NewFromConfig(aws.Config{Region: "us-west-2", HTTPClient: c.Client(),
					Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.Token)},
					func(o *s3.Options) { o.RetryMaxAttempts = 1 })
				_, err = s3c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
				if want {
					require.NoError(t, err, "%s with the %s fixtures", r.name, fx.name)
					continue
				}
				var ae smithy.APIError
				require.ErrorAs(t, err, &ae, "%s with the %s fixtures", r.name, fx.name)
				require.Equal(t, r.code, ae.ErrorCode())
			}
		})
	}
}

// podIdentityAgent runs the agent for cluster eks against c, with a
// session of the test node role.
func podIdentityAgent(t *testing.T, c *Cloud) *eksagent.Agent {
	t.Helper()
	role, err := c.IAM.Role("arn:aws:iam::123456789012:role/podid-test-node")
	require.NoError(t, err)
	s, err := c.IAM.IssueSession(awsiam.SessionSpec{Duration: time.Hour, Principal: awsiam.Principal{
		Type: awsiam.PrincipalAssumedRole, Account: "123456789012", RoleARN: role.ARN, SessionName: "i-0123456789abcdef0",
		ARN: "arn:aws:sts::123456789012:assumed-role/podid-test-node/i-0123456789abcdef0", UserID: role.RoleID + ":i-0123456789abcdef0"}})
	require.NoError(t, err)
	node := eksagent.Credentials{AccessKeyID: s.Credentials.AccessKeyID, SecretAccessKey: s.Credentials.SecretAccessKey, SessionToken: s.Credentials.SessionToken}
	a, err := eksagent.New(eksagent.Options{ClusterName: "eks", Region: "us-west-2", HTTPClient: c.Client(), Now: c.Clock.Now,
		Credentials: eksagent.CredentialsFunc(func(context.Context) (eksagent.Credentials, error) { return node, nil })})
	require.NoError(t, err)
	return a
}

// agentGet asks the agent as a pod does, at its link-local address.
func agentGet(t *testing.T, a *eksagent.Agent, token string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://"+eksagent.IPv4Address+eksagent.CredentialsPath, nil)
	req.Header.Set("Authorization", token)
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	b, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	return rec.Code, string(b)
}
