package fixturecheck

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/idlabtest"
)

// Account is the lab's main AWS account (fixtures/aws/lab.yaml).
const Account = "123456789012"

// subCondition matches the trust policies' exact-subject conditions.
var subCondition = regexp.MustCompile(`(?m)^(\s+)StringEquals:(\n\s+\S+:sub: )system:serviceaccount:\S+`)

// TrustRow is an IRSA row: the eks cluster's namespace/service account
// trading its token for a role of Account.
type TrustRow struct {
	Name, Namespace, ServiceAccount, Role string
	Allowed                               bool // with the shipped fixture
}

// SubjectConditions checks IRSA rows against the subject conditions they
// rest on: with fixtures/aws/lab.yaml as shipped each row is allowed or
// refused (403) as it says; with every trust policy's exact subject
// condition widened to any service account, every row is allowed.
func SubjectConditions(t *testing.T, rows []TrustRow) {
	shipped := Read(t, "aws/lab.yaml")
	widened := subCondition.ReplaceAllString(shipped, `${1}StringLike:${2}"system:serviceaccount:*"`)
	for _, fx := range Variants(t, shipped, widened) {
		t.Run(fx.Name, func(t *testing.T) {
			c := AWSCloud(t, fx.Fixture)
			for _, r := range rows {
				status, body := WebIdentity(t, c, RoleARN(r.Role), Token(t, c, r.Namespace, r.ServiceAccount, "sts.amazonaws.com"))
				want := http.StatusForbidden
				if r.Allowed || fx.Widened {
					want = http.StatusOK
				}
				require.Equal(t, want, status, "%s with the %s fixture: %s", r.Name, fx.Name, body)
			}
		})
	}
}

// AudienceTypo checks the audience-typo row of namespace's app and role:
// its token, for sts.amazonaws.co, is refused with InvalidIdentityToken
// because the eks issuer's OIDC provider does not list that client ID;
// with the typo added to the client IDs, STS no longer rejects the token
// (the trust policy's aud condition then refuses it with AccessDenied).
func AudienceTypo(t *testing.T, namespace, role string) {
	shipped := Read(t, "aws/lab.yaml")
	ids := "url: " + Issuer("eks") + "\n        clientIDs: [sts.amazonaws.com]"
	widened := Replace(t, shipped, ids, "url: "+Issuer("eks")+"\n        clientIDs: [sts.amazonaws.com, sts.amazonaws.co]")
	for _, fx := range Variants(t, shipped, widened) {
		t.Run(fx.Name, func(t *testing.T) {
			c := AWSCloud(t, fx.Fixture)
			status, body := WebIdentity(t, c, RoleARN(role), Token(t, c, namespace, "app", "sts.amazonaws.co"))
			if fx.Widened {
				require.Equal(t, "AccessDenied", Code(body), body)
				return
			}
			require.Equal(t, http.StatusBadRequest, status, body)
			require.Equal(t, "InvalidIdentityToken", Code(body), body)
		})
	}
}

// BucketRow is an S3 row: the role of namespace/service account reads its
// own bucket app-a-data and is refused app-b-data because its policy's
// statement Own names only app-a-data.
type BucketRow struct {
	Namespace, ServiceAccount, Role string
	Own                             string // the statement's fixture text, ending in its Resource
	Put                             bool   // the suite also tries PutObject on app-b-data
}

// OwnBucketOnly checks an S3 row against its policy: as shipped the role
// reads app-a-data/hello.txt and is refused (AccessDenied) app-b-data;
// with the statement's Resource widened to "*", the same requests succeed.
func OwnBucketOnly(t *testing.T, r BucketRow) {
	shipped := Read(t, "aws/lab.yaml")
	widened := Replace(t, shipped, r.Own, r.Own[:strings.LastIndex(r.Own, "Resource:")]+`Resource: "*"`)
	for _, fx := range Variants(t, shipped, widened) {
		t.Run(fx.Name, func(t *testing.T) {
			c := AWSCloud(t, fx.Fixture)
			token, err := c.TokenFile(Issuer("eks"), r.Namespace, r.ServiceAccount)
			require.NoError(t, err)
			s3c := s3.NewFromConfig(c.Config(RoleARN(r.Role), token))
			ctx := context.Background()
			_, err = s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("app-a-data"), Key: aws.String("hello.txt")})
			require.NoError(t, err, "own bucket")
			_, err = s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("app-b-data"), Key: aws.String("secret.txt")})
			errs := []error{err}
			if r.Put {
				_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("app-b-data"), Key: aws.String("planted.txt"), Body: strings.NewReader("x")})
				errs = append(errs, err)
			}
			for _, err := range errs {
				if fx.Widened {
					require.NoError(t, err, "app-b-data once the policy allows it")
					continue
				}
				var ae smithy.APIError
				require.ErrorAs(t, err, &ae)
				require.Equal(t, "AccessDenied", ae.ErrorCode())
			}
		})
	}
}

// RoleARN is the ARN of role name in Account.
func RoleARN(name string) string { return "arn:aws:iam::" + Account + ":role/" + name }

// Token is a token of the eks cluster's issuer, hosted by c, for
// namespace/serviceAccount and audience.
func Token(t testing.TB, c *idlabtest.Cloud, namespace, serviceAccount, audience string) string {
	t.Helper()
	tok, err := c.Issuer(Issuer("eks")).MintServiceAccountToken(oidc.TokenRequest{Namespace: namespace, ServiceAccount: serviceAccount, Audiences: []string{audience}})
	require.NoError(t, err)
	return tok
}
