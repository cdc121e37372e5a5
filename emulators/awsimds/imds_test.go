package awsimds_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awsimds"
	"github.com/idlab/idlab/emulators/awssts"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/clock"
)

const iamFixture = `accounts:
  - id: "111111111111"
    roles:
      - name: node
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
      - name: lambda-only
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
`

const (
	nodeRole   = "arn:aws:iam::111111111111:role/node"
	instanceID = "i-0abc1234def567890"
)

type lab struct {
	clock *clock.Clock
	iam   *awsiam.IAM
	imds  *awsimds.Server
	ca    *certs.CA
}

func newLab(t *testing.T, mod func(*awsimds.Options)) *lab {
	t.Helper()
	clk := clock.New(nil)
	iam, err := awsiam.New(awsiam.Options{Now: clk.Now})
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtureYAML("iam.yaml", []byte(iamFixture)))
	opts := awsimds.Options{IAM: iam, Now: clk.Now, RoleARN: nodeRole, InstanceID: instanceID, Region: "eu-west-1"}
	if mod != nil {
		mod(&opts)
	}
	srv, err := awsimds.NewServer(opts)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	ca, err := certs.NewCA("imds test")
	require.NoError(t, err)
	return &lab{clock: clk, iam: iam, imds: srv, ca: ca}
}

// headerTransport adds headers to every request, as a proxy in the path would.
type headerTransport struct {
	h    http.Header
	base http.RoundTripper
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.h {
		r.Header[k] = v
	}
	return t.base.RoundTrip(r)
}

// sdkClient is the unmodified SDK IMDS client pointed at the emulator.
func (l *lab) sdkClient(extra http.Header) *imds.Client {
	return imds.New(imds.Options{Endpoint: l.imds.URL(), HTTPClient: &http.Client{
		Timeout: 5 * time.Second, Transport: headerTransport{h: extra, base: http.DefaultTransport}}})
}

func (l *lab) retrieve(t *testing.T, extra http.Header) (aws.Credentials, error) {
	t.Helper()
	p := ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = l.sdkClient(extra) })
	return p.Retrieve(context.Background())
}

// raw sends one request and returns status and body.
func (l *lab) raw(t *testing.T, method, path string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, l.imds.URL()+path, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := l.imds.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func (l *lab) tokenFor(t *testing.T, ttl string) string {
	t.Helper()
	code, body := l.raw(t, http.MethodPut, "/latest/api/token", map[string]string{awsimds.TTLHeader: ttl})
	require.Equal(t, 200, code, body)
	return body
}

func TestSDKInstanceProfileCredentials(t *testing.T) {
	l := newLab(t, func(o *awsimds.Options) { o.RequireV2 = true })
	ctx := context.Background()
	creds, err := l.retrieve(t, nil)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(creds.AccessKeyID, "ASIA"))
	require.True(t, creds.CanExpire)
	// The SDK caps Expires at one hour to refresh early; IMDS says six.
	require.WithinDuration(t, time.Now().Add(time.Hour), creds.Expires, 5*time.Second)
	code, body := l.raw(t, http.MethodGet, "/latest/meta-data/iam/security-credentials/node", map[string]string{awsimds.TokenHeader: l.tokenFor(t, "60")})
	require.Equal(t, 200, code)
	require.Contains(t, body, `"Expiration": "`+l.clock.Now().Add(6*time.Hour).UTC().Format("2006-01-02T15:04:05Z")+`"`)
	require.Contains(t, body, `"Type": "AWS-HMAC"`)
	require.Contains(t, body, `"Code": "Success"`)

	// The credentials are the role's session for this instance, and work.
	sts1, err := awssts.NewServer(awssts.Options{IAM: l.iam, CA: l.ca, Now: l.clock.Now})
	require.NoError(t, err)
	t.Cleanup(sts1.Close)
	cfg := aws.Config{Region: "eu-west-1", HTTPClient: sts1.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)}
	who, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(sts1.URL()) }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	require.Equal(t, "arn:aws:sts::111111111111:assumed-role/node/"+instanceID, aws.ToString(who.Arn))

	// The same session is served until it nears expiry, then a new one.
	again, err := l.retrieve(t, nil)
	require.NoError(t, err)
	require.Equal(t, creds.AccessKeyID, again.AccessKeyID)
	l.clock.Advance(6*time.Hour - 10*time.Minute)
	rotated, err := l.retrieve(t, nil)
	require.NoError(t, err)
	require.NotEqual(t, creds.AccessKeyID, rotated.AccessKeyID)

	// The other SDK operations.
	c := l.sdkClient(nil)
	region, err := c.GetRegion(ctx, &imds.GetRegionInput{})
	require.NoError(t, err)
	require.Equal(t, "eu-west-1", region.Region)
	doc, err := c.GetInstanceIdentityDocument(ctx, &imds.GetInstanceIdentityDocumentInput{})
	require.NoError(t, err)
	require.Equal(t, instanceID, doc.InstanceID)
	require.Equal(t, "111111111111", doc.AccountID)
	require.Equal(t, "eu-west-1a", doc.AvailabilityZone)
	info, err := c.GetIAMInfo(ctx, &imds.GetIAMInfoInput{})
	require.NoError(t, err)
	require.Equal(t, "arn:aws:iam::111111111111:instance-profile/node", info.InstanceProfileArn)
	require.True(t, strings.HasPrefix(info.InstanceProfileID, "AIPA"))
	md, err := c.GetMetadata(ctx, &imds.GetMetadataInput{Path: "placement/availability-zone"})
	require.NoError(t, err)
	b, err := io.ReadAll(md.Content)
	require.NoError(t, err)
	require.Equal(t, "eu-west-1a", string(b))

	// IAM decided the trust policy for ec2.amazonaws.com and logged it.
	ds := l.iam.Decisions(awsiam.DecisionFilter{Principal: "ec2.amazonaws.com", Action: "sts:AssumeRole"})
	require.Len(t, ds, 2)
	require.Equal(t, awsiam.Allow, ds[0].Effect)
}

func TestTokenTTLValidation(t *testing.T) {
	l := newLab(t, nil)
	tests := []struct {
		ttl  string
		want int
	}{
		{"", 400}, {"0", 400}, {"-1", 400}, {"abc", 400}, {"21601", 400},
		{"1", 200}, {"300", 200}, {"21600", 200},
	}
	for _, tc := range tests {
		t.Run("ttl="+tc.ttl, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.ttl != "" {
				hdr[awsimds.TTLHeader] = tc.ttl
			}
			code, _ := l.raw(t, http.MethodPut, "/latest/api/token", hdr)
			require.Equal(t, tc.want, code)
		})
	}
}

func TestTokenFlows(t *testing.T) {
	tests := []struct {
		name      string
		requireV2 bool
		method    string
		path      string
		hdr       func(t *testing.T, l *lab) map[string]string
		advance   time.Duration
		want      int
		body      string // substring
	}{
		{"v1 allowed by default", false, "GET", "/latest/meta-data/instance-id", nil, 0, 200, instanceID},
		{"v1 refused when RequireV2", true, "GET", "/latest/meta-data/instance-id", nil, 0, 401, "401 - Unauthorized"},
		{"v2 token when RequireV2", true, "GET", "/latest/meta-data/instance-id",
			func(t *testing.T, l *lab) map[string]string {
				return map[string]string{awsimds.TokenHeader: l.tokenFor(t, "60")}
			}, 0, 200, instanceID},
		{"expired token", true, "GET", "/latest/meta-data/instance-id",
			func(t *testing.T, l *lab) map[string]string {
				return map[string]string{awsimds.TokenHeader: l.tokenFor(t, "60")}
			}, 61 * time.Second, 401, ""},
		{"token still valid just before its TTL", true, "GET", "/latest/meta-data/instance-id",
			func(t *testing.T, l *lab) map[string]string {
				return map[string]string{awsimds.TokenHeader: l.tokenFor(t, "60")}
			}, 59 * time.Second, 200, instanceID},
		{"forged token", false, "GET", "/latest/meta-data/instance-id",
			func(*testing.T, *lab) map[string]string {
				return map[string]string{awsimds.TokenHeader: "AQAEAFakeTokenFakeToken=="}
			}, 0, 401, ""},
		{"token PUT through a proxy", false, "PUT", "/latest/api/token",
			func(*testing.T, *lab) map[string]string {
				return map[string]string{awsimds.TTLHeader: "60", "X-Forwarded-For": "10.0.0.7"}
			}, 0, 403, "403 - Forbidden"},
		{"GET on the token path", false, "GET", "/latest/api/token", nil, 0, 405, ""},
		{"unknown path", false, "GET", "/latest/meta-data/no-such-thing", nil, 0, 404, "<title>404 - Not Found</title>"},
		{"listing", false, "GET", "/latest/meta-data/", nil, 0, 200, "iam/\ninstance-id"},
		{"role name", false, "GET", "/latest/meta-data/iam/security-credentials/", nil, 0, 200, "node"},
		{"another role's credentials", false, "GET", "/latest/meta-data/iam/security-credentials/admin", nil, 0, 404, ""},
		{"region", false, "GET", "/latest/meta-data/placement/region", nil, 0, 200, "eu-west-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, func(o *awsimds.Options) { o.RequireV2 = tc.requireV2 })
			var hdr map[string]string
			if tc.hdr != nil {
				hdr = tc.hdr(t, l)
			}
			l.clock.Advance(tc.advance)
			code, body := l.raw(t, tc.method, tc.path, hdr)
			require.Equal(t, tc.want, code, body)
			require.Contains(t, body, tc.body)
		})
	}
}

func TestSDKFallbackAndRefusals(t *testing.T) {
	proxied := http.Header{"X-Forwarded-For": {"10.0.0.7"}}
	twoHops := http.Header{awsimds.HopsHeader: {"2"}}
	tests := []struct {
		name    string
		opts    func(*awsimds.Options)
		extra   http.Header
		wantErr bool
	}{
		{"proxied token request falls back to IMDSv1", nil, proxied, false},
		{"proxied token request with RequireV2 gets nothing", func(o *awsimds.Options) { o.RequireV2 = true }, proxied, true},
		{"two hops over a limit of one falls back to IMDSv1", nil, twoHops, false},
		{"two hops over a limit of one with RequireV2 gets nothing", func(o *awsimds.Options) { o.RequireV2 = true }, twoHops, true},
		{"two hops within a limit of two", func(o *awsimds.Options) { o.RequireV2 = true; o.HopLimit = 2 }, twoHops, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, tc.opts)
			creds, err := l.retrieve(t, tc.extra)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(creds.AccessKeyID, "ASIA"))
		})
	}
}

func TestHopLimitDropsTokenResponse(t *testing.T) {
	l := newLab(t, nil)
	req, err := http.NewRequest(http.MethodPut, l.imds.URL()+"/latest/api/token", nil)
	require.NoError(t, err)
	req.Header.Set(awsimds.TTLHeader, "60")
	req.Header.Set(awsimds.HopsHeader, "2")
	_, err = l.imds.Client().Do(req)
	require.Error(t, err, "no response beyond the hop limit")
	// GETs are not hop-limited.
	code, _ := l.raw(t, http.MethodGet, "/latest/meta-data/instance-id", map[string]string{awsimds.HopsHeader: "5"})
	require.Equal(t, 200, code)
}

func TestRoleEC2CannotAssume(t *testing.T) {
	l := newLab(t, func(o *awsimds.Options) { o.RoleARN = "arn:aws:iam::111111111111:role/lambda-only" })
	_, err := l.retrieve(t, nil)
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	require.Equal(t, "AssumeRoleUnauthorizedAccess", ae.ErrorCode())
	code, body := l.raw(t, http.MethodGet, "/latest/meta-data/iam/info", nil)
	require.Equal(t, 200, code)
	require.Contains(t, body, `"Code": "AssumeRoleUnauthorizedAccess"`)
	require.Contains(t, body, "EC2 cannot assume the role lambda-only")
}

func TestNoInstanceProfile(t *testing.T) {
	l := newLab(t, func(o *awsimds.Options) { o.RoleARN = "" })
	code, _ := l.raw(t, http.MethodGet, "/latest/meta-data/iam/security-credentials/", nil)
	require.Equal(t, 404, code)
	_, err := l.retrieve(t, nil)
	require.Error(t, err)
}

func TestOptionsValidation(t *testing.T) {
	_, err := awsimds.New(awsimds.Options{RoleARN: "role/x"})
	require.ErrorContains(t, err, "not an IAM role ARN")
	_, err = awsimds.New(awsimds.Options{RoleARN: nodeRole})
	require.ErrorContains(t, err, "Options.IAM is required")
	_, err = awsimds.New(awsimds.Options{HopLimit: 65})
	require.ErrorContains(t, err, "HopLimit")
}
