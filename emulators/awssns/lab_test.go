package awssns_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SNS SignatureVersion 1
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awssns"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/clock"
)

const (
	acctA  = "111111111111"
	acctB  = "222222222222"
	region = "us-east-1"
)

// fixture: publisher owns the app-* topics of account A; reader may only
// list; partner in account B may publish to A's topics if their policy lets it.
const fixture = `accounts:
  - id: "111111111111"
    roles:
      - name: publisher
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::111111111111:root"}, Action: sts:AssumeRole}]}
        inlinePolicies:
          own-topics:
            Version: "2012-10-17"
            Statement:
              - {Effect: Allow, Action: "sns:*", Resource: "arn:aws:sns:*:111111111111:app-*"}
              - {Effect: Allow, Action: ["sns:ListTopics", "sns:ListSubscriptions"], Resource: "*"}
              - {Effect: Deny, Action: "sns:Publish", Resource: "arn:aws:sns:*:111111111111:app-denied"}
      - name: reader
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::111111111111:root"}, Action: sts:AssumeRole}]}
        inlinePolicies:
          list: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "sns:ListTopics", Resource: "*"}]}
  - id: "222222222222"
    roles:
      - name: partner
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::222222222222:root"}, Action: sts:AssumeRole}]}
        inlinePolicies:
          publish-to-a: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: ["sns:Publish", "sns:Subscribe"], Resource: "arn:aws:sns:us-east-1:111111111111:*"}]}
      - name: no-policy
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::222222222222:root"}, Action: sts:AssumeRole}]}
`

// lab is IAM, a clock and SNS over HTTPS.
type lab struct {
	clock *clock.Clock
	iam   *awsiam.IAM
	srv   *awssns.Server
	ca    *certs.CA
}

func newLab(t testing.TB, dataDir string) *lab {
	t.Helper()
	ca, err := certs.NewCA("sns test")
	require.NoError(t, err)
	clk := clock.New(nil)
	iam, err := awsiam.New(awsiam.Options{Now: clk.Now})
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtureYAML("fixture.yaml", []byte(fixture)))
	srv, err := awssns.NewServer(awssns.Options{IAM: iam, CA: ca, DataDir: dataDir,
		RetryDelays: []time.Duration{10 * time.Millisecond, 50 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	return &lab{clock: clk, iam: iam, srv: srv, ca: ca}
}

// session issues temporary credentials for a role of the fixture.
func (l *lab) session(t testing.TB, account, role string, d time.Duration) *awsiam.Session {
	t.Helper()
	roleARN := "arn:aws:iam::" + account + ":role/" + role
	r, err := l.iam.Role(roleARN)
	require.NoError(t, err)
	s, err := l.iam.IssueSession(awsiam.SessionSpec{Duration: d, Principal: awsiam.Principal{
		Type: awsiam.PrincipalAssumedRole, Account: account, RoleARN: roleARN, SessionName: "test",
		ARN: "arn:aws:sts::" + account + ":assumed-role/" + role + "/test", UserID: r.RoleID + ":test"}})
	require.NoError(t, err)
	return s
}

// client is the real SDK client acting as a role.
func (l *lab) client(t testing.TB, account, role string) *sns.Client {
	t.Helper()
	return l.clientFor(l.session(t, account, role, time.Hour))
}

func (l *lab) clientFor(s *awsiam.Session) *sns.Client {
	c := s.Credentials
	return sns.New(sns.Options{Region: region, BaseEndpoint: aws.String(l.srv.URL()), HTTPClient: l.srv.Client(),
		Credentials:      credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		RetryMaxAttempts: 1})
}

// adminURL serves the handler's admin API on its own plain listener, as
// the lab's control plane does, and returns its base URL.
func (l *lab) adminURL(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(l.srv.Handler().AdminHandler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "want an AWS API error, got %v", err)
	return ae.ErrorCode()
}

func createTopic(ctx context.Context, t *testing.T, c *sns.Client, name string) string {
	t.Helper()
	out, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	require.NoError(t, err)
	return aws.ToString(out.TopicArn)
}

// verifyEnvelope checks an SNS JSON envelope's signature the way AWS tells
// subscribers to: canonical string, certificate from SigningCertURL.
func (l *lab) verifyEnvelope(t *testing.T, body string) map[string]any {
	t.Helper()
	var env map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &env))
	str := func(k string) string { s, _ := env[k].(string); return s }
	keys := []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"}
	if str("Type") != "Notification" {
		keys = []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"}
	}
	var b strings.Builder
	for _, k := range keys {
		if _, ok := env[k]; !ok && k == "Subject" {
			continue
		}
		b.WriteString(k + "\n" + str(k) + "\n")
	}
	require.True(t, strings.HasPrefix(str("SigningCertURL"), l.srv.URL()+"/SimpleNotificationService-"), str("SigningCertURL"))
	resp, err := l.srv.Client().Get(str("SigningCertURL"))
	require.NoError(t, err)
	defer resp.Body.Close()
	pemBytes, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	blk, _ := pem.Decode(pemBytes)
	require.NotNil(t, blk, "signing certificate is PEM")
	cert, err := x509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	sig, err := base64.StdEncoding.DecodeString(str("Signature"))
	require.NoError(t, err)
	pub := cert.PublicKey.(*rsa.PublicKey)
	if str("SignatureVersion") == "2" {
		sum := sha256.Sum256([]byte(b.String()))
		require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig))
	} else {
		require.Equal(t, "1", str("SignatureVersion"))
		sum := sha1.Sum([]byte(b.String())) //nolint:gosec // see import
		require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA1, sum[:], sig))
	}
	return env
}
