package eksauth_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awssts"
	"github.com/idlab/idlab/emulators/eksauth"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/clock"
)

const (
	issuerURL  = "https://oidc.eks.us-west-2.amazonaws.com/id/EKSAUTHLAB0000000000000000000001"
	issuer2URL = "https://oidc.eks.us-west-2.amazonaws.com/id/EKSAUTHLAB0000000000000000000002"
	acctA      = "111111111111"
	region     = "us-west-2"
)

// iamFixture: node roles (one allowed to call EKS Auth), pod roles with
// and without the pods.eks.amazonaws.com trust, and a cross-account target.
const iamFixture = `accounts:
  - id: "111111111111"
    roles:
      - name: node
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
        inlinePolicies:
          pod-identity:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: eks-auth:AssumeRoleForPodIdentity, Resource: "*"}]
      - name: node-without-pod-identity
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
      - name: app
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Service: pods.eks.amazonaws.com}
              Action: [sts:AssumeRole, sts:TagSession]
              Condition: {StringEquals: {"aws:RequestTag/kubernetes-namespace": team-a}}
        inlinePolicies:
          chain:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: [sts:AssumeRole, sts:TagSession], Resource: "arn:aws:iam::222222222222:role/target"}]
      - name: app-no-tags
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: pods.eks.amazonaws.com}, Action: sts:AssumeRole}]}
      - name: ec2-only
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: [sts:AssumeRole, sts:TagSession]}]}
  - id: "222222222222"
    roles:
      - name: target
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {AWS: "arn:aws:iam::111111111111:role/app"}
              Action: [sts:AssumeRole, sts:TagSession]
              Condition: {StringEquals: {"sts:ExternalId": ext-lab-1}}
`

const eksFixture = `clusters:
  - name: lab
    account: "111111111111"
    issuerURL: ` + issuerURL + `
  - name: empty
    account: "111111111111"
    issuerURL: ` + issuer2URL + `
podIdentityAssociations:
  - {clusterName: lab, namespace: team-a, serviceAccount: app, roleArn: "arn:aws:iam::111111111111:role/app", id: a-0123456789abcdefg}
  - {clusterName: lab, namespace: team-a, serviceAccount: untrusted, roleArn: "arn:aws:iam::111111111111:role/ec2-only"}
  - {clusterName: lab, namespace: team-a, serviceAccount: tagless, roleArn: "arn:aws:iam::111111111111:role/app-no-tags"}
  - {clusterName: lab, namespace: team-a, serviceAccount: tagless-off, roleArn: "arn:aws:iam::111111111111:role/app-no-tags", disableSessionTags: true}
  - {clusterName: lab, namespace: team-b, serviceAccount: app, roleArn: "arn:aws:iam::111111111111:role/app"}
  - clusterName: lab
    namespace: team-a
    serviceAccount: cross
    roleArn: "arn:aws:iam::111111111111:role/app"
    targetRoleArn: "arn:aws:iam::222222222222:role/target"
    externalId: ext-lab-1
`

type lab struct {
	clock  *clock.Clock
	issuer *oidc.Issuer
	other  *oidc.Issuer // the "empty" cluster's issuer
	stray  *oidc.Issuer // same issuer URL as lab, key never published
	iam    *awsiam.IAM
	eks    *eksauth.Server
	sts    *awssts.Server
}

func newLab(t testing.TB) *lab {
	t.Helper()
	ca, err := certs.NewCA("eksauth test")
	require.NoError(t, err)
	clk := clock.New(nil)
	issuers, err := oidc.NewServer(oidc.Options{CA: ca, Now: clk.Now})
	require.NoError(t, err)
	t.Cleanup(issuers.Close)
	iss, err := issuers.Handler().AddIssuer(issuerURL)
	require.NoError(t, err)
	_, err = iss.AddKey("RS256")
	require.NoError(t, err)
	other, err := issuers.Handler().AddIssuer(issuer2URL)
	require.NoError(t, err)
	_, err = other.AddKey("ES256")
	require.NoError(t, err)
	strayH, err := oidc.New(oidc.Options{Now: clk.Now})
	require.NoError(t, err)
	stray, err := strayH.AddIssuer(issuerURL)
	require.NoError(t, err)
	_, err = stray.AddKey("RS256")
	require.NoError(t, err)

	iam, err := awsiam.New(awsiam.Options{Now: clk.Now})
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtureYAML("iam.yaml", []byte(iamFixture)))
	eks, err := eksauth.NewServer(eksauth.Options{IAM: iam, Now: clk.Now, CA: ca, Region: region, HTTPClient: issuers.Client()})
	require.NoError(t, err)
	t.Cleanup(eks.Close)
	require.NoError(t, eks.Handler().LoadFixtureYAML("eks.yaml", []byte(eksFixture)))
	sts, err := awssts.NewServer(awssts.Options{IAM: iam, Now: clk.Now, CA: ca, Region: region})
	require.NoError(t, err)
	t.Cleanup(sts.Close)
	return &lab{clock: clk, issuer: iss, other: other, stray: stray, iam: iam, eks: eks, sts: sts}
}

// nodeCreds are a node role session, as the agent on a node holds them.
func (l *lab) nodeCreds(t testing.TB, role string) aws.Credentials {
	t.Helper()
	r, err := l.iam.Role("arn:aws:iam::111111111111:role/" + role)
	require.NoError(t, err)
	s, err := l.iam.IssueSession(awsiam.SessionSpec{Duration: time.Hour, Principal: awsiam.Principal{
		Type: awsiam.PrincipalAssumedRole, Account: acctA, RoleARN: r.ARN, SessionName: "i-0123456789abcdef0",
		ARN: "arn:aws:sts::111111111111:assumed-role/" + role + "/i-0123456789abcdef0", UserID: r.RoleID + ":i-0123456789abcdef0",
	}})
	require.NoError(t, err)
	c := s.Credentials
	return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
}

// podToken mints what kubelet projects for the agent: audience
// pods.eks.amazonaws.com, bound to a pod.
func (l *lab) podToken(t testing.TB, iss *oidc.Issuer, ns, sa string, mod func(*oidc.TokenRequest)) string {
	t.Helper()
	req := oidc.TokenRequest{Namespace: ns, ServiceAccount: sa, Audiences: []string{"pods.eks.amazonaws.com"},
		Pod: &oidc.ObjectRef{Name: "web-7d4b9c-x2x9z", UID: "3f1e2d4c-0000-4000-8000-000000000001"}}
	if mod != nil {
		mod(&req)
	}
	tok, err := iss.MintServiceAccountToken(req)
	require.NoError(t, err)
	return tok
}

type result struct {
	status  int
	code    string
	message string
	out     eksauth.Response
}

// call is AssumeRoleForPodIdentity as the agent's SDK client sends it:
// REST-JSON POST signed with SigV4 for eks-auth (the eksauth SDK module is
// not served by the Go module proxy, so the request is built by hand with
// the SDK's v4 signer). creds nil sends it unsigned.
func (l *lab) call(t testing.TB, creds *aws.Credentials, cluster string, body any) result {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, l.eks.URL()+"/clusters/"+cluster+"/assume-role-for-pod-identity", bytes.NewReader(raw))
	require.NoError(t, err)
	req.Host = "eks-auth." + region + ".api.aws"
	req.Header.Set("Content-Type", "application/json")
	if creds != nil {
		sum := sha256.Sum256(raw)
		require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), *creds, req, hex.EncodeToString(sum[:]), "eks-auth", region, l.clock.Now()))
	}
	resp, err := l.eks.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	res := result{status: resp.StatusCode}
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(b, &res.out), "%s", b)
		return res
	}
	var e struct {
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(b, &e), "%s", b)
	res.code, res.message = resp.Header.Get("X-Amzn-ErrorType"), e.Message
	return res
}
