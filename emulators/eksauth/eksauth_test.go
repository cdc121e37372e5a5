package eksauth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/oidc"
)

func TestAssumeRoleForPodIdentityAllowed(t *testing.T) {
	l := newLab(t)
	node := l.nodeCreds(t, "node")
	res := l.call(t, &node, "lab", map[string]string{"token": l.podToken(t, l.issuer, "team-a", "app", nil)})
	require.Equal(t, 200, res.status, "%s: %s", res.code, res.message)

	out := res.out
	require.Equal(t, "pods.eks.amazonaws.com", out.Audience)
	require.Equal(t, "team-a", out.Subject.Namespace)
	require.Equal(t, "app", out.Subject.ServiceAccount)
	require.Equal(t, "a-0123456789abcdefg", out.PodIdentityAssociation.AssociationID)
	require.Equal(t, "arn:aws:eks:us-west-2:111111111111:podidentityassociation/lab/a-0123456789abcdefg", out.PodIdentityAssociation.AssociationARN)
	require.True(t, strings.HasPrefix(out.AssumedRoleUser.ARN, "arn:aws:sts::111111111111:assumed-role/app/eks-lab-web-7d4b9c-x2x9z-"), out.AssumedRoleUser.ARN)
	session := out.AssumedRoleUser.ARN[strings.LastIndex(out.AssumedRoleUser.ARN, "/")+1:]
	require.LessOrEqual(t, len(session), 64)
	require.True(t, strings.HasPrefix(out.AssumedRoleUser.AssumeRoleID, "AROA"))
	require.True(t, strings.HasSuffix(out.AssumedRoleUser.AssumeRoleID, ":"+session))
	require.True(t, strings.HasPrefix(out.Credentials.AccessKeyID, "ASIA"))
	require.Equal(t, l.clock.Now().Add(6*time.Hour).Unix(), out.Credentials.Expiration, "six-hour session")

	// The session carries the six EKS session tags.
	_, p, err := l.iam.LookupAccessKey(out.Credentials.AccessKeyID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		"eks-cluster-arn":            "arn:aws:eks:us-west-2:111111111111:cluster/lab",
		"eks-cluster-name":           "lab",
		"kubernetes-namespace":       "team-a",
		"kubernetes-service-account": "app",
		"kubernetes-pod-name":        "web-7d4b9c-x2x9z",
		"kubernetes-pod-uid":         "3f1e2d4c-0000-4000-8000-000000000001",
	}, p.Tags)

	// The credentials work against STS with the unmodified SDK.
	cfg := aws.Config{Region: region, HTTPClient: l.sts.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(out.Credentials.AccessKeyID, out.Credentials.SecretAccessKey, out.Credentials.SessionToken)}
	who, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(l.sts.URL()) }).
		GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	require.Equal(t, out.AssumedRoleUser.ARN, aws.ToString(who.Arn))
	require.Equal(t, out.AssumedRoleUser.AssumeRoleID, aws.ToString(who.UserId))

	// The caller's permission was decided by IAM and logged.
	ds := l.iam.Decisions(awsiam.DecisionFilter{Action: "eks-auth:AssumeRoleForPodIdentity"})
	require.Len(t, ds, 1)
	require.Equal(t, awsiam.Allow, ds[0].Effect)
	require.Equal(t, "arn:aws:eks:us-west-2:111111111111:cluster/lab", ds[0].Resource)
}

func TestAssumeRoleForPodIdentityTargetRole(t *testing.T) {
	l := newLab(t)
	node := l.nodeCreds(t, "node")
	res := l.call(t, &node, "lab", map[string]string{"token": l.podToken(t, l.issuer, "team-a", "cross", nil)})
	require.Equal(t, 200, res.status, "%s: %s", res.code, res.message)
	require.True(t, strings.HasPrefix(res.out.AssumedRoleUser.ARN, "arn:aws:sts::222222222222:assumed-role/target/eks-lab-"), res.out.AssumedRoleUser.ARN)
	_, p, err := l.iam.LookupAccessKey(res.out.Credentials.AccessKeyID)
	require.NoError(t, err)
	require.True(t, p.Chained)
	require.Equal(t, "cross", p.Tags["kubernetes-service-account"], "session tags are transitive")
}

func TestAssumeRoleForPodIdentityDenied(t *testing.T) {
	l := newLab(t)
	node := l.nodeCreds(t, "node")
	noPerm := l.nodeCreds(t, "node-without-pod-identity")
	tok := func(ns, sa string) map[string]string {
		return map[string]string{"token": l.podToken(t, l.issuer, ns, sa, nil)}
	}
	with := func(mod func(*oidc.TokenRequest)) map[string]string {
		return map[string]string{"token": l.podToken(t, l.issuer, "team-a", "app", mod)}
	}
	stray := map[string]string{"token": l.podToken(t, l.stray, "team-a", "app", nil)}
	unknownIssuer := func() map[string]string {
		h, err := oidc.New(oidc.Options{})
		require.NoError(t, err)
		iss, err := h.AddIssuer("https://oidc.eks.us-west-2.amazonaws.com/id/UNKNOWN")
		require.NoError(t, err)
		_, err = iss.AddKey("RS256")
		require.NoError(t, err)
		return map[string]string{"token": l.podToken(t, iss, "team-a", "app", nil)}
	}()

	tests := []struct {
		name    string
		creds   *aws.Credentials
		cluster string
		body    any
		status  int
		code    string
		msg     string // substring
	}{
		{"no association for the service account", &node, "lab", tok("team-a", "nobody"), 404, "ResourceNotFoundException", "service account nobody"},
		{"token for another namespace's service account", &node, "lab", tok("team-c", "app"), 404, "ResourceNotFoundException", "namespace team-c"},
		{"cluster without associations", &node, "empty", map[string]string{"token": l.podToken(t, l.other, "team-a", "app", nil)}, 404, "ResourceNotFoundException", ""},
		{"unknown cluster", &node, "nope", tok("team-a", "app"), 404, "ResourceNotFoundException", "No cluster found for name: nope."},
		{"token of another cluster", &node, "empty", tok("team-a", "app"), 400, "InvalidTokenException", "not issued by cluster empty"},
		{"wrong audience", &node, "lab", with(func(r *oidc.TokenRequest) { r.Audiences = []string{"sts.amazonaws.com"} }), 400, "InvalidTokenException", "audience"},
		{"expired token", &node, "lab", with(func(r *oidc.TokenRequest) { r.ExpirationSeconds = 600; r.IssuedAt = time.Now().Add(-2 * time.Hour) }), 400, "ExpiredTokenException", ""},
		{"token not bound to a pod", &node, "lab", with(func(r *oidc.TokenRequest) { r.Pod = nil }), 400, "InvalidTokenException", "not bound to a pod"},
		{"unknown issuer", &node, "lab", unknownIssuer, 400, "InvalidTokenException", ""},
		{"signed by a key the issuer never published", &node, "lab", stray, 400, "InvalidTokenException", "signature"},
		{"trust policy lacks pods.eks.amazonaws.com", &node, "lab", tok("team-a", "untrusted"), 400, "AccessDeniedException", "does not allow pods.eks.amazonaws.com to perform sts:AssumeRole"},
		{"trust policy lacks sts:TagSession", &node, "lab", tok("team-a", "tagless"), 400, "AccessDeniedException", "sts:TagSession"},
		{"trust policy condition on a session tag", &node, "lab", tok("team-b", "app"), 400, "AccessDeniedException", "sts:AssumeRole"},
		{"caller lacks eks-auth:AssumeRoleForPodIdentity", &noPerm, "lab", tok("team-a", "app"), 400, "AccessDeniedException",
			"User: arn:aws:sts::111111111111:assumed-role/node-without-pod-identity/i-0123456789abcdef0 is not authorized to perform: eks-auth:AssumeRoleForPodIdentity on resource: arn:aws:eks:us-west-2:111111111111:cluster/lab"},
		{"unsigned request", nil, "lab", tok("team-a", "app"), 403, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"unknown access key", &aws.Credentials{AccessKeyID: "ASIAUNKNOWNUNKNOWN00", SecretAccessKey: "x", SessionToken: "y"}, "lab", tok("team-a", "app"), 403, "UnrecognizedClientException", ""},
		{"token is not a JWT", &node, "lab", map[string]string{"token": "not-a-jwt"}, 400, "InvalidParameterException", "'token'"},
		{"token missing", &node, "lab", map[string]string{}, 400, "InvalidParameterException", "Value null at 'token'"},
		{"bad cluster name", &node, "-bad", tok("team-a", "app"), 400, "InvalidParameterException", "'clusterName'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := l.call(t, tc.creds, tc.cluster, tc.body)
			require.Equal(t, tc.status, res.status, "%s: %s", res.code, res.message)
			require.Equal(t, tc.code, res.code, res.message)
			require.Contains(t, res.message, tc.msg)
		})
	}

	// Session tags disabled: the trust policy needs only sts:AssumeRole.
	res := l.call(t, &node, "lab", tok("team-a", "tagless-off"))
	require.Equal(t, 200, res.status, "%s: %s", res.code, res.message)
	_, p, err := l.iam.LookupAccessKey(res.out.Credentials.AccessKeyID)
	require.NoError(t, err)
	require.Empty(t, p.Tags)

	// The trust-policy denial is in IAM's decision log for the service principal.
	ds := l.iam.Decisions(awsiam.DecisionFilter{Principal: "pods.eks.amazonaws.com", Effect: awsiam.ImplicitDeny})
	require.NotEmpty(t, ds)
	require.Contains(t, ds[0].Resource, ":role/")
}

func TestExpiredNodeCredentials(t *testing.T) {
	l := newLab(t)
	node := l.nodeCreds(t, "node")
	tok := l.podToken(t, l.issuer, "team-a", "app", func(r *oidc.TokenRequest) { r.ExpirationSeconds = 86400 })
	l.clock.Advance(2 * time.Hour)
	res := l.call(t, &node, "lab", map[string]string{"token": tok})
	require.Equal(t, 403, res.status)
	require.Equal(t, "ExpiredTokenException", res.code)
	require.Contains(t, res.message, "security token included in the request is expired")
}
