package podidentity

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/components/eksagent"
	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/idlabtest"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// The suite's names, shared by its e2e rows and the test of them here.
const (
	account = "123456789012"
	ns      = "idlab-podid"
	otherNS = "idlab-podid-other"
	appRole = "arn:aws:iam::" + account + ":role/podid-app"
)

// testNode is a node role for the test alone: the lab's own node role and
// its IMDS belong to the running lab.
const testNode = `
  - id: "` + account + `"
    roles:
      - name: podid-test-node
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
        inlinePolicies:
          node:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: eks-auth:AssumeRoleForPodIdentity, Resource: "arn:aws:eks:us-west-2:` + account + `:cluster/eks"}]
`

// TestLabPodIdentityDenialsRestOnTheFixture is the test of the suite's deny
// rows (no //go:build e2e: make test runs it): with fixtures/eks and
// fixtures/aws/podidentity.yaml as shipped, the pods the suite expects
// refused are refused (through the agent, by EKS Auth or S3); with the
// association, trust or tag condition each rests on widened, every one of
// them is allowed.
func TestLabPodIdentityDenialsRestOnTheFixture(t *testing.T) {
	shippedAWS, shippedEKS := fixturecheck.Read(t, "aws/podidentity.yaml")+testNode, fixturecheck.Read(t, "eks/lab.yaml")
	const ec2Only, tagPrefix = "Principal: {Service: ec2.amazonaws.com}", "podid-shared/${aws:PrincipalTag/kubernetes-namespace}/*"
	widenedAWS := fixturecheck.Replace(t, shippedAWS, "Sid: EC2Only\n              Effect: Allow\n              "+ec2Only,
		"Sid: EC2Only\n              Effect: Allow\n              Principal: {Service: [ec2.amazonaws.com, pods.eks.amazonaws.com]}")
	widenedAWS = fixturecheck.Replace(t, widenedAWS, tagPrefix, "podid-shared/*")
	widenedEKS := shippedEKS + `  - {clusterName: eks, namespace: ` + ns + `, serviceAccount: other, roleArn: "` + appRole + `"}
  - {clusterName: eks, namespace: ` + otherNS + `, serviceAccount: app, roleArn: "` + appRole + `"}
`
	rows := []struct {
		name, ns, sa string
		object       string // read with the credentials, when set
		allowed      bool   // with the shipped fixtures
		status       int    // the agent's status when refused
		code         string // the refusal's code in the agent's text
	}{
		{name: "own role", ns: ns, sa: "app", allowed: true},
		{name: "own bucket", ns: ns, sa: "app", object: "podid-data/hello.txt", allowed: true},
		{name: "own namespace prefix", ns: ns, sa: "app", object: "podid-shared/idlab-podid/note.txt", allowed: true},
		{name: "other SA without association", ns: ns, sa: "other", status: 404, code: "(ResourceNotFoundException)"},
		{name: "same SA in another namespace", ns: otherNS, sa: "app", status: 404, code: "(ResourceNotFoundException)"},
		{name: "role without the pods.eks.amazonaws.com trust", ns: ns, sa: "untrusted", status: 400, code: "(AccessDeniedException)"},
		{name: "other namespace's prefix", ns: ns, sa: "app", object: "podid-shared/idlab-podid-other/note.txt", code: "AccessDenied"},
	}
	for _, fx := range []struct {
		name     string
		aws, eks string
		widened  bool
	}{{"shipped", shippedAWS, shippedEKS, false}, {"widened", widenedAWS, widenedEKS, true}} {
		t.Run(fx.name, func(t *testing.T) {
			c := idlabtest.NewCloud(t, idlabtest.CloudOptions{AWSFixtures: fixturecheck.Write(t, fx.aws), EKSFixtures: fixturecheck.Write(t, fx.eks),
				Issuers: []string{fixturecheck.Issuer("eks")}})
			agent := podIdentityAgent(t, c)
			for i, r := range rows {
				tok, err := c.Issuer(fixturecheck.Issuer("eks")).MintServiceAccountToken(oidc.TokenRequest{Namespace: r.ns, ServiceAccount: r.sa,
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
				s3c := s3.NewFromConfig(aws.Config{Region: idlabtest.Region, HTTPClient: c.Client(), RetryMaxAttempts: 1,
					Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.Token)})
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
func podIdentityAgent(t *testing.T, c *idlabtest.Cloud) *eksagent.Agent {
	t.Helper()
	role, err := c.IAM.Role("arn:aws:iam::" + account + ":role/podid-test-node")
	require.NoError(t, err)
	s, err := c.IAM.IssueSession(awsiam.SessionSpec{Duration: time.Hour, Principal: awsiam.Principal{
		Type: awsiam.PrincipalAssumedRole, Account: account, RoleARN: role.ARN, SessionName: "i-0123456789abcdef0",
		ARN: "arn:aws:sts::" + account + ":assumed-role/podid-test-node/i-0123456789abcdef0", UserID: role.RoleID + ":i-0123456789abcdef0"}})
	require.NoError(t, err)
	node := eksagent.Credentials{AccessKeyID: s.Credentials.AccessKeyID, SecretAccessKey: s.Credentials.SecretAccessKey, SessionToken: s.Credentials.SessionToken}
	a, err := eksagent.New(eksagent.Options{ClusterName: "eks", Region: idlabtest.Region, HTTPClient: c.Client(), Now: c.Clock.Now,
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
