package awssts_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awssts"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/clock"
)

const (
	issuerURL  = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
	issuerHost = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
	acctA      = "111111111111"
	acctB      = "222222222222"
	roleAppA   = "arn:aws:iam::111111111111:role/app-a"
	roleCrossB = "arn:aws:iam::222222222222:role/cross-b"
)

const fixture = `accounts:
  - id: "111111111111"
    oidcProviders:
      - url: ` + issuerURL + `
        clientIDs: [sts.amazonaws.com]
    roles:
      - name: app-a
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Federated: "arn:aws:iam::111111111111:oidc-provider/` + issuerHost + `"}
              Action: sts:AssumeRoleWithWebIdentity
              Condition:
                StringEquals:
                  "` + issuerHost + `:sub": system:serviceaccount:team-a:app-a
                  "` + issuerHost + `:aud": sts.amazonaws.com
        inlinePolicies:
          cross:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: sts:AssumeRole
                Resource: ["arn:aws:iam::222222222222:role/cross-b", "arn:aws:iam::222222222222:role/b-trusts-nobody"]
      - name: app-no-cross
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Federated: "arn:aws:iam::111111111111:oidc-provider/` + issuerHost + `"}
              Action: sts:AssumeRoleWithWebIdentity
              Condition:
                StringEquals: {"` + issuerHost + `:sub": system:serviceaccount:team-a:no-cross}
  - id: "222222222222"
    roles:
      - name: cross-b
        maxSessionDuration: 4h
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {AWS: ["arn:aws:iam::111111111111:role/app-a", "arn:aws:iam::111111111111:role/app-no-cross"]}
              Action: sts:AssumeRole
              Condition: {StringEquals: {"sts:ExternalId": ext-123}}
        inlinePolicies:
          whoami: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "sts:GetCallerIdentity", Resource: "*"}]}
      - name: b-trusts-nobody
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {AWS: "arn:aws:iam::333333333333:root"}
              Action: sts:AssumeRole
`

// lab is the embedded chain: an EKS-style issuer, IAM and STS.
type lab struct {
	clock   *clock.Clock
	issuers *oidc.Server // serves issuer; tests may add more
	issuer  *oidc.Issuer
	stray   *oidc.Issuer // signs with a key the real issuer never published
	iam     *awsiam.IAM
	sts     *awssts.Server
	caFile  string
	tempDir string
}

func newLab(t testing.TB) *lab {
	t.Helper()
	return newLabWith(t, fixture, true)
}

// newLabWith loads fix into IAM; with shareClock false STS gets no Now and
// its Server owns the clock (IAM reads real time).
func newLabWith(t testing.TB, fix string, shareClock bool) *lab {
	t.Helper()
	ca, err := certs.NewCA("test lab")
	require.NoError(t, err)
	clk := clock.New(nil)
	issuers, err := oidc.NewServer(oidc.Options{CA: ca, Now: clk.Now})
	require.NoError(t, err)
	t.Cleanup(issuers.Close)
	iss, err := issuers.Handler().AddIssuer(issuerURL)
	require.NoError(t, err)
	_, err = iss.AddKey("RS256")
	require.NoError(t, err)
	// A second handler with the same issuer URL but its own key: tokens it
	// signs look right but are signed by a key not in the real JWKS.
	strayH, err := oidc.New(oidc.Options{Now: clk.Now})
	require.NoError(t, err)
	stray, err := strayH.AddIssuer(issuerURL)
	require.NoError(t, err)
	_, err = stray.AddKey("RS256")
	require.NoError(t, err)

	iam, err := awsiam.New(awsiam.Options{Now: clk.Now})
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtureYAML("fixture.yaml", []byte(fix)))
	opts := awssts.Options{IAM: iam, CA: ca, Now: clk.Now, HTTPClient: issuers.Client()}
	if !shareClock {
		opts.Now = nil
	}
	srv, err := awssts.NewServer(opts)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, ca.PEM, 0o644))
	return &lab{clock: clk, issuers: issuers, issuer: iss, stray: stray, iam: iam, sts: srv, caFile: caFile, tempDir: dir}
}

// sdkEnv points the default credential chain at the lab, as IRSA's webhook
// does in a pod: only environment variables, no code changes.
func (l *lab) sdkEnv(t *testing.T, token, roleARN string) {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token), 0o600))
	for k, v := range map[string]string{
		"AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile,
		"AWS_ROLE_ARN":                roleARN,
		"AWS_ROLE_SESSION_NAME":       "pod-session",
		"AWS_ENDPOINT_URL_STS":        l.sts.URL(),
		"AWS_CA_BUNDLE":               l.caFile,
		"AWS_REGION":                  "us-west-2",
		"AWS_CONFIG_FILE":             filepath.Join(l.tempDir, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(l.tempDir, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ACCESS_KEY_ID":           "",
		"AWS_SECRET_ACCESS_KEY":       "",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
	} {
		t.Setenv(k, v)
	}
}

func (l *lab) mint(t testing.TB, ns, sa string, aud ...string) string {
	t.Helper()
	tok, err := l.issuer.MintServiceAccountToken(oidc.TokenRequest{Namespace: ns, ServiceAccount: sa, Audiences: aud})
	require.NoError(t, err)
	return tok
}

func callerARN(ctx context.Context, t *testing.T) (string, error) {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(ctx)
	require.NoError(t, err)
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Arn), nil
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "want an AWS API error, got %v", err)
	return ae.ErrorCode()
}

func TestSDKWebIdentityAllowDeny(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	expired := func() string {
		tok, err := l.issuer.MintServiceAccountToken(oidc.TokenRequest{Namespace: "team-a", ServiceAccount: "app-a",
			Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: 600, IssuedAt: time.Now().Add(-2 * time.Hour)})
		require.NoError(t, err)
		return tok
	}()
	unknownIssuer := func() string {
		h, err := oidc.New(oidc.Options{})
		require.NoError(t, err)
		iss, err := h.AddIssuer("https://oidc.eks.us-west-2.amazonaws.com/id/UNREGISTERED")
		require.NoError(t, err)
		_, err = iss.AddKey("RS256")
		require.NoError(t, err)
		tok, err := iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: "team-a", ServiceAccount: "app-a", Audiences: []string{"sts.amazonaws.com"}})
		require.NoError(t, err)
		return tok
	}()
	wrongKey, err := l.stray.MintServiceAccountToken(oidc.TokenRequest{Namespace: "team-a", ServiceAccount: "app-a", Audiences: []string{"sts.amazonaws.com"}})
	require.NoError(t, err)

	tests := []struct {
		name         string
		token        string
		role         string
		wantARN      string
		wantCode     string
		trustDecided bool // the deny comes from the trust policy, so IAM logged it
	}{
		{"right SA", l.mint(t, "team-a", "app-a", "sts.amazonaws.com"), roleAppA, "arn:aws:sts::111111111111:assumed-role/app-a/pod-session", "", false},
		{"other SA", l.mint(t, "team-a", "app-b", "sts.amazonaws.com"), roleAppA, "", "AccessDenied", true},
		{"same SA name in other namespace", l.mint(t, "team-b", "app-a", "sts.amazonaws.com"), roleAppA, "", "AccessDenied", true},
		{"wrong aud", l.mint(t, "team-a", "app-a", "sts.amazonaws.co"), roleAppA, "", "InvalidIdentityToken", false},
		{"expired", expired, roleAppA, "", "ExpiredTokenException", false},
		{"unknown issuer", unknownIssuer, roleAppA, "", "InvalidIdentityToken", false},
		{"wrong key", wrongKey, roleAppA, "", "InvalidIdentityToken", false},
		{"role that does not exist", l.mint(t, "team-a", "app-a", "sts.amazonaws.com"), "arn:aws:iam::111111111111:role/nope", "", "AccessDenied", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l.iam.ResetDecisions()
			l.sdkEnv(t, tc.token, tc.role)
			arn, err := callerARN(ctx, t)
			if tc.wantCode == "" {
				require.NoError(t, err)
				require.Equal(t, tc.wantARN, arn)
				ds := l.iam.Decisions(awsiam.DecisionFilter{Action: "sts:AssumeRoleWithWebIdentity"})
				require.Len(t, ds, 1)
				require.Equal(t, awsiam.Allow, ds[0].Effect)
				return
			}
			require.Error(t, err)
			require.Equal(t, tc.wantCode, apiCode(t, err), err.Error())
			ds := l.iam.Decisions(awsiam.DecisionFilter{Action: "sts:AssumeRoleWithWebIdentity"})
			if tc.trustDecided {
				require.Len(t, ds, 1, "the trust policy decision must be in the log")
				require.Equal(t, awsiam.ImplicitDeny, ds[0].Effect)
				require.Contains(t, ds[0].Reason, issuerHost+":sub")
			} else {
				// Token checks fail before IAM evaluates the trust policy;
				// the log holds the rejection (once per SDK attempt).
				require.NotEmpty(t, ds)
				for _, d := range ds {
					require.Equal(t, awsiam.Rejected, d.Effect)
					require.True(t, strings.HasPrefix(d.Reason, tc.wantCode+": "), d.Reason)
				}
			}
		})
	}
}

func TestSDKCredentialsExpireWithTheLabClock(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	l.sdkEnv(t, l.mint(t, "team-a", "app-a", "sts.amazonaws.com"), roleAppA)
	cfg, err := config.LoadDefaultConfig(ctx)
	require.NoError(t, err)
	creds, err := cfg.Credentials.Retrieve(ctx)
	require.NoError(t, err)
	static := aws.NewCredentialsCache(staticProvider(creds))
	client := sts.NewFromConfig(cfg, func(o *sts.Options) { o.Credentials = static })
	_, err = client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	l.clock.Advance(61 * time.Minute)
	_, err = client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.Error(t, err)
	// The SDK signs with its own clock, which is an hour behind the lab now.
	require.Contains(t, []string{"ExpiredToken", "SignatureDoesNotMatch"}, apiCode(t, err))
}

type staticProvider aws.Credentials

func (s staticProvider) Retrieve(context.Context) (aws.Credentials, error) {
	c := aws.Credentials(s)
	c.CanExpire = false
	return c, nil
}

func TestSDKAssumeRoleChaining(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	tests := []struct {
		name       string
		webSA      string
		webRole    string
		target     string
		externalID string
		duration   time.Duration
		wantARN    string
		wantCode   string
	}{
		{"A to B with external ID", "app-a", roleAppA, roleCrossB, "ext-123", 0, "arn:aws:sts::222222222222:assumed-role/cross-b/chained", ""},
		{"wrong external ID", "app-a", roleAppA, roleCrossB, "ext-999", 0, "", "AccessDenied"},
		{"missing external ID", "app-a", roleAppA, roleCrossB, "", 0, "", "AccessDenied"},
		{"B's trust names another account", "app-a", roleAppA, "arn:aws:iam::222222222222:role/b-trusts-nobody", "", 0, "", "AccessDenied"},
		{"A's policy lacks sts:AssumeRole", "no-cross", "arn:aws:iam::111111111111:role/app-no-cross", roleCrossB, "ext-123", 0, "", "AccessDenied"},
		{"chained session over one hour", "app-a", roleAppA, roleCrossB, "ext-123", 2 * time.Hour, "", "ValidationError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l.sdkEnv(t, l.mint(t, "team-a", tc.webSA, "sts.amazonaws.com"), tc.webRole)
			cfg, err := config.LoadDefaultConfig(ctx)
			require.NoError(t, err)
			prov := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), tc.target, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = "chained"
				if tc.externalID != "" {
					o.ExternalID = aws.String(tc.externalID)
				}
				if tc.duration > 0 {
					o.Duration = tc.duration
				}
			})
			cfg.Credentials = aws.NewCredentialsCache(prov)
			out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if tc.wantCode != "" {
				require.Error(t, err)
				require.Equal(t, tc.wantCode, apiCode(t, err), err.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantARN, aws.ToString(out.Arn))
			require.Equal(t, acctB, aws.ToString(out.Account))
		})
	}
}
