package eksagent_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/components/eksagent"
	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awssts"
	"github.com/idlab/idlab/emulators/eksauth"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/clock"
)

const (
	issuerURL = "https://oidc.eks.us-west-2.amazonaws.com/id/EKSAGENTTEST00000000000000000001"
	account   = "111111111111"
	region    = "us-west-2"
)

// iamFixture: a node role allowed to call EKS Auth and one that is not; a
// pod role trusting pods.eks.amazonaws.com and one trusting only EC2.
const iamFixture = `accounts:
  - id: "111111111111"
    roles:
      - name: node
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
        inlinePolicies:
          pod-identity:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: eks-auth:AssumeRoleForPodIdentity, Resource: "arn:aws:eks:us-west-2:111111111111:cluster/lab"}]
      - name: bare-node
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}
      - name: app
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: pods.eks.amazonaws.com}, Action: [sts:AssumeRole, sts:TagSession]}]}
      - name: ec2-only
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: [sts:AssumeRole, sts:TagSession]}]}
`

const eksFixture = `clusters:
  - {name: lab, account: "111111111111", issuerURL: ` + issuerURL + `}
podIdentityAssociations:
  - {clusterName: lab, namespace: team-a, serviceAccount: app, roleArn: "arn:aws:iam::111111111111:role/app", id: a-0123456789abcdefg}
  - {clusterName: lab, namespace: team-a, serviceAccount: untrusted, roleArn: "arn:aws:iam::111111111111:role/ec2-only"}
`

type lab struct {
	clock  *clock.Clock
	issuer *oidc.Issuer
	stray  *oidc.Issuer // the lab issuer's URL, a key never published
	iam    *awsiam.IAM
	eks    *eksauth.Server
	sts    *awssts.Server
}

func newLab(t *testing.T) *lab {
	t.Helper()
	ca, err := certs.NewCA("eksagent test")
	require.NoError(t, err)
	clk := clock.New(nil)
	issuers, err := oidc.NewServer(oidc.Options{CA: ca, Now: clk.Now})
	require.NoError(t, err)
	t.Cleanup(issuers.Close)
	iss, err := issuers.Handler().AddIssuer(issuerURL)
	require.NoError(t, err)
	_, err = iss.AddKey("RS256")
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
	stsSrv, err := awssts.NewServer(awssts.Options{IAM: iam, Now: clk.Now, CA: ca, Region: region})
	require.NoError(t, err)
	t.Cleanup(stsSrv.Close)
	return &lab{clock: clk, issuer: iss, stray: stray, iam: iam, eks: eks, sts: stsSrv}
}

// nodeCreds are the node role's instance-profile session.
func (l *lab) nodeCreds(t *testing.T, role string) eksagent.CredentialsProvider {
	t.Helper()
	r, err := l.iam.Role("arn:aws:iam::" + account + ":role/" + role)
	require.NoError(t, err)
	s, err := l.iam.IssueSession(awsiam.SessionSpec{Duration: 6 * time.Hour, Principal: awsiam.Principal{
		Type: awsiam.PrincipalAssumedRole, Account: account, RoleARN: r.ARN, SessionName: "i-0123456789abcdef0",
		ARN: "arn:aws:sts::" + account + ":assumed-role/" + role + "/i-0123456789abcdef0", UserID: r.RoleID + ":i-0123456789abcdef0",
	}})
	require.NoError(t, err)
	c := eksagent.Credentials{AccessKeyID: s.Credentials.AccessKeyID, SecretAccessKey: s.Credentials.SecretAccessKey, SessionToken: s.Credentials.SessionToken}
	return eksagent.CredentialsFunc(func(context.Context) (eksagent.Credentials, error) { return c, nil })
}

// agent starts the agent for cluster "lab" with the node role's
// credentials, calling the in-process EKS Auth.
func (l *lab) agent(t *testing.T, node string, mod func(*eksagent.Options)) *eksagent.Server {
	t.Helper()
	opts := eksagent.Options{ClusterName: "lab", Region: region, Endpoint: l.eks.URL(), HTTPClient: l.eks.Client(),
		Credentials: l.nodeCreds(t, node), Now: l.clock.Now}
	if mod != nil {
		mod(&opts)
	}
	s, err := eksagent.NewServer(t.Context(), "", opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// podToken is the projected token kubelet writes for the agent.
func (l *lab) podToken(t *testing.T, iss *oidc.Issuer, ns, sa, podUID string) string {
	t.Helper()
	tok, err := iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: ns, ServiceAccount: sa, Audiences: []string{"pods.eks.amazonaws.com"},
		ExpirationSeconds: 86400, Pod: &oidc.ObjectRef{Name: "web-7d4b9c-x2x9z", UID: podUID}})
	require.NoError(t, err)
	return tok
}

// linkLocalClient sends every request to the agent's listener whatever
// the URL's host: the pod's view of http://169.254.170.23/v1/credentials.
func linkLocalClient(s *eksagent.Server) *http.Client {
	addr := strings.TrimPrefix(s.URL(), "http://")
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}}
}

// get asks the agent as a pod does, with host as the URL's host.
func get(t *testing.T, s *eksagent.Server, host, token string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+host+eksagent.CredentialsPath, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := linkLocalClient(s).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// sdkConfig is the pod's SDK default chain with the webhook's variables:
// AWS_CONTAINER_CREDENTIALS_FULL_URI and the token file.
func (l *lab) sdkConfig(t *testing.T, s *eksagent.Server, token string) aws.Config {
	t.Helper()
	file := filepath.Join(t.TempDir(), "eks-pod-identity-token")
	require.NoError(t, os.WriteFile(file, []byte(token), 0o600))
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CA_BUNDLE", "")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	// The chain's container provider has its own HTTP client; the option
	// points it at the agent's listener.
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithRegion(region),
		config.WithEndpointCredentialOptions(func(o *endpointcreds.Options) { o.HTTPClient = linkLocalClient(s) }))
	require.NoError(t, err)
	return cfg
}

func (l *lab) callerIdentity(t *testing.T, cfg aws.Config) (*sts.GetCallerIdentityOutput, error) {
	t.Helper()
	client := sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.BaseEndpoint = aws.String(l.sts.URL())
		o.HTTPClient = l.sts.Client()
	})
	return client.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
}

// TestSDKGetsPodRole: the unmodified SDK default chain in a pod of an
// associated service account gets the association's role through the
// agent, tagged with the pod's session tags, with the account ID.
func TestSDKGetsPodRole(t *testing.T) {
	l := newLab(t)
	s := l.agent(t, "node", nil)
	cfg := l.sdkConfig(t, s, l.podToken(t, l.issuer, "team-a", "app", "3f1e2d4c-0000-4000-8000-000000000001"))

	creds, err := cfg.Credentials.Retrieve(t.Context())
	require.NoError(t, err)
	require.Equal(t, endpointcreds.ProviderName, creds.Source)
	require.Equal(t, account, creds.AccountID)
	require.True(t, creds.CanExpire)
	// The chain caches with a 5-minute expiry window before the 6 h session ends.
	require.WithinDuration(t, l.clock.Now().Add(6*time.Hour-5*time.Minute), creds.Expires, time.Second)

	who, err := l.callerIdentity(t, cfg)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(aws.ToString(who.Arn), "arn:aws:sts::111111111111:assumed-role/app/eks-lab-web-7d4b9c-x2x9z-"), aws.ToString(who.Arn))
	_, p, err := l.iam.LookupAccessKey(creds.AccessKeyID)
	require.NoError(t, err)
	require.Equal(t, "team-a", p.Tags["kubernetes-namespace"])
	require.Equal(t, "app", p.Tags["kubernetes-service-account"])
}

// TestSDKRefusals: each refusal reaches the SDK as the agent's text, from
// the agent's own checks or passed through from EKS Auth with its status.
func TestSDKRefusals(t *testing.T) {
	l := newLab(t)
	uid := "3f1e2d4c-0000-4000-8000-000000000002"
	cases := []struct {
		name   string
		node   string
		token  string
		status int
		// message is the whole text, with REQID for EKS Auth's request ID.
		message string
		// effect and action of the refusal in IAM's decision log.
		effect awsiam.Effect
		action string
	}{
		{name: "no association", node: "node", token: l.podToken(t, l.issuer, "team-a", "other", uid), status: 404,
			message: "[REQID]: (ResourceNotFoundException): No Pod Identity Association found for service account other in namespace team-a of cluster lab., fault: client", effect: awsiam.Rejected, action: eksauth.Action},
		{name: "same name other namespace", node: "node", token: l.podToken(t, l.issuer, "team-b", "app", uid), status: 404,
			message: "[REQID]: (ResourceNotFoundException): No Pod Identity Association found for service account app in namespace team-b of cluster lab., fault: client", effect: awsiam.Rejected, action: eksauth.Action},
		{name: "role does not trust pods.eks.amazonaws.com", node: "node", token: l.podToken(t, l.issuer, "team-a", "untrusted", uid), status: 400,
			message: "[REQID]: (AccessDeniedException): EKS Pod Identity cannot assume role arn:aws:iam::111111111111:role/ec2-only: its trust policy does not allow pods.eks.amazonaws.com to perform sts:AssumeRole., fault: client", effect: awsiam.ImplicitDeny, action: "sts:AssumeRole"},
		{name: "node role not allowed", node: "bare-node", token: l.podToken(t, l.issuer, "team-a", "app", uid), status: 400,
			message: "[REQID]: (AccessDeniedException): User: arn:aws:sts::111111111111:assumed-role/bare-node/i-0123456789abcdef0 is not authorized to perform: eks-auth:AssumeRoleForPodIdentity on resource: arn:aws:eks:us-west-2:111111111111:cluster/lab, fault: client", effect: awsiam.ImplicitDeny, action: eksauth.Action},
		{name: "token signed by an unknown key", node: "node", token: l.podToken(t, l.stray, "team-a", "app", uid), status: 400,
			message: "[REQID]: (InvalidTokenException): The service account token signature could not be verified., fault: client", effect: awsiam.Rejected, action: eksauth.Action},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := l.agent(t, tc.node, nil)
			status, h, body := get(t, s, eksagent.IPv4Address, tc.token)
			require.Equal(t, tc.status, status, body)
			require.Equal(t, "text/plain; charset=utf-8", h.Get("Content-Type"))
			reqID := between(body, "[", "]")
			require.Len(t, reqID, 36, body)
			want := strings.Replace(tc.message, "REQID", reqID, 1)
			require.Equal(t, want+"\n", body)
			ds := l.iam.Decisions(awsiam.DecisionFilter{})
			require.NotEmpty(t, ds)
			last := ds[len(ds)-1]
			require.Equal(t, tc.effect, last.Effect, last.Reason)
			require.Equal(t, tc.action, last.Action)
			require.Equal(t, reqID, last.RequestID)

			cfg := l.sdkConfig(t, s, tc.token)
			_, err := l.callerIdentity(t, cfg)
			require.Error(t, err)
			var ae smithy.APIError
			require.ErrorAs(t, err, &ae)
			require.Empty(t, ae.ErrorCode(), "a text body has no code for the SDK")
			require.True(t, strings.HasPrefix(ae.ErrorMessage(), "[") && strings.HasSuffix(ae.ErrorMessage(), strings.TrimPrefix(tc.message, "[REQID]")+"\n"), "%s\n%v", ae.ErrorMessage(), err)
			require.Contains(t, err.Error(), "failed to refresh cached credentials")
		})
	}
}

// TestRequestValidation: the agent's own refusals, before EKS Auth is
// asked (the node role here could not call it anyway).
func TestRequestValidation(t *testing.T) {
	l := newLab(t)
	s := l.agent(t, "bare-node", nil)
	good := l.podToken(t, l.issuer, "team-a", "app", "3f1e2d4c-0000-4000-8000-000000000003")
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	now := l.clock.Now().Unix()
	cases := []struct {
		name, host, token string
		status            int
		body              string
	}{
		{"wrong address", "169.254.170.2", good, 403, "Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23 127.0.0.1] address not 169.254.170.2"},
		{"wrong address with port", "10.0.0.1:80", good, 403, "Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23 127.0.0.1] address not 10.0.0.1"},
		{"no token", eksagent.IPv4Address, "", 400, "Service account token cannot be empty"},
		{"two segments", eksagent.IPv4Address, "a.b", 400, "Service account token cannot be parsed: token is malformed: token contains an invalid number of segments"},
		{"header not base64", eksagent.IPv4Address, "!!.e30.x", 400, "Service account token cannot be parsed: token is malformed: could not base64 decode header: illegal base64 data at input byte 0"},
		{"header without alg", eksagent.IPv4Address, seg(`{}`) + "." + seg(fmt.Sprintf(`{"exp":%d}`, now+600)) + ".x", 400, "Service account token cannot be parsed: token is unverifiable: signing method (alg) is unspecified"},
		{"claims not JSON", eksagent.IPv4Address, seg(`{"alg":"RS256"}`) + "." + seg(`[1]`) + ".x", 400, "Service account token cannot be parsed: token is malformed: could not JSON decode claim: json: cannot unmarshal array into Go value of type jwt.RegisteredClaims"},
		{"exp not a number", eksagent.IPv4Address, seg(`{"alg":"RS256"}`) + "." + seg(`{"exp":"soon"}`) + ".x", 400, `Service account token cannot be parsed: token is malformed: could not JSON decode claim: could not parse NumericData: json: invalid number literal, trying to unmarshal "\"soon\"" into Number`},
		{"expired", eksagent.IPv4Address, seg(`{"alg":"RS256"}`) + "." + seg(fmt.Sprintf(`{"exp":%d}`, now)) + ".x", 400, "Service account token failed basic claim validations: token is expired"},
		{"not yet valid", eksagent.IPv4Address, seg(`{"alg":"RS256"}`) + "." + seg(fmt.Sprintf(`{"exp":%d,"nbf":%d}`, now+600, now+60)) + ".x", 400, "Service account token failed basic claim validations: token is not valid yet"},
		{"expired and not yet valid", eksagent.IPv4Address, seg(`{"alg":"RS256"}`) + "." + seg(fmt.Sprintf(`{"exp":%d,"nbf":%d}`, now-60, now+60)) + ".x", 400, "Service account token failed basic claim validations: token is expired, token is not valid yet"},
		// Passed the checks above; the cache needs the pod's UID.
		{"claims null", eksagent.IPv4Address, seg(`{"alg":"RS256"}`) + "." + seg(`null`) + ".x", 400, "failed to get pod uid from service account token: Service account token missing kubernetes.io claims"},
		{"no kubernetes claims", eksagent.IPv4Address, seg(`{"alg":"RS256"}`) + "." + seg(`{}`) + ".x", 400, "failed to get pod uid from service account token: Service account token missing kubernetes.io claims"},
		{"no pod", eksagent.IPv4Address, seg(`{"alg":"RS256"}`) + "." + seg(`{"kubernetes.io":{"namespace":"a"}}`) + ".x", 400, "failed to get pod uid from service account token: Service account token missing pod claims"},
		{"no pod uid", eksagent.IPv4Address, seg(`{"alg":"RS256"}`) + "." + seg(`{"kubernetes.io":{"pod":{"name":"p"}}}`) + ".x", 400, "failed to get pod uid from service account token: Service account token missing pod uid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := get(t, s, tc.host, tc.token)
			require.Equal(t, tc.status, status, body)
			require.Equal(t, tc.body+"\n", body)
		})
	}
	require.Empty(t, l.iam.Decisions(awsiam.DecisionFilter{Action: eksauth.Action}), "no request reached EKS Auth")
}

// TestCache: the same token of the same pod is answered from the cache;
// another token of the pod, the renewal period, or a disabled cache go to
// EKS Auth again. Refusals are not cached.
func TestCache(t *testing.T) {
	l := newLab(t)
	// One authorization of the node per call to EKS Auth (refusals add a
	// rejection beside it, not counted).
	calls := func() int {
		n := 0
		for _, d := range l.iam.Decisions(awsiam.DecisionFilter{Action: eksauth.Action}) {
			if d.Effect != awsiam.Rejected {
				n++
			}
		}
		return n
	}
	uid := "3f1e2d4c-0000-4000-8000-000000000004"
	tok := l.podToken(t, l.issuer, "team-a", "app", uid)

	s := l.agent(t, "node", func(o *eksagent.Options) { o.CredentialRenewal = time.Hour })
	status, _, first := get(t, s, eksagent.IPv4Address, tok)
	require.Equal(t, 200, status, first)
	require.Equal(t, 1, calls())
	_, _, again := get(t, s, eksagent.IPv4Address, tok)
	require.Equal(t, first, again, "served from the cache")
	require.Equal(t, 1, calls())

	l.clock.Advance(time.Second)
	tok2 := l.podToken(t, l.issuer, "team-a", "app", uid)
	require.NotEqual(t, tok, tok2)
	_, _, other := get(t, s, eksagent.IPv4Address, tok2)
	require.NotEqual(t, first, other, "a new token of the pod is sent to EKS Auth")
	require.Equal(t, 2, calls())

	l.clock.Advance(time.Hour)
	_, _, renewed := get(t, s, eksagent.IPv4Address, tok2)
	require.NotEqual(t, other, renewed, "renewed after CredentialRenewal")
	require.Equal(t, 3, calls())

	bad := l.podToken(t, l.issuer, "team-a", "other", uid)
	for range 2 {
		status, _, _ = get(t, s, eksagent.IPv4Address, bad)
		require.Equal(t, 404, status)
	}
	require.Equal(t, 5, calls(), "refusals are not cached")

	off := l.agent(t, "node", func(o *eksagent.Options) { o.DisableCache = true })
	for range 2 {
		status, _, _ = get(t, off, eksagent.IPv4Address, tok2)
		require.Equal(t, 200, status)
	}
	require.Equal(t, 7, calls())
}

// TestEKSAuthUnreachable: a transport failure is a 500 with its text.
func TestEKSAuthUnreachable(t *testing.T) {
	l := newLab(t)
	// The emulator's own client dials the emulator whatever the URL; a
	// plain one does not.
	s := l.agent(t, "node", func(o *eksagent.Options) {
		o.Endpoint, o.HTTPClient = "https://127.0.0.1:1", &http.Client{Timeout: time.Second}
	})
	status, _, body := get(t, s, eksagent.IPv4Address, l.podToken(t, l.issuer, "team-a", "app", "u-5"))
	require.Equal(t, 500, status, body)
	require.True(t, strings.HasPrefix(body, "error getting credentials to cache: unable to fetch credentials from EKS Auth: "), body)
}

// TestOptions: the required options.
func TestOptions(t *testing.T) {
	_, err := eksagent.New(eksagent.Options{})
	require.ErrorIs(t, err, eksagent.ErrNoCluster)
	_, err = eksagent.New(eksagent.Options{ClusterName: "lab"})
	require.ErrorIs(t, err, eksagent.ErrNoCredentials)
}

func between(s, open, close string) string {
	_, rest, ok := strings.Cut(s, open)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, close)
	return v
}
