package awsiam

import (
	"context"
	"fmt"
	"github.com/idlab/idlab/internal/decisionlog"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
)

const sampleFixture = `accounts:
  - id: "111111111111"
    alias: dev
    oidcProviders:
      - url: https://oidc.eks.us-west-2.amazonaws.com/id/ABC
        clientIDs: [sts.amazonaws.com]
    policies:
      - name: read-a
        document:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: s3:GetObject
              Resource: arn:aws:s3:::bucket-a/*
    roles:
      - name: app-a
        maxSessionDuration: 2h
        tags: {team: a}
        trustPolicy: |
          {"Version":"2012-10-17","Statement":[{"Effect":"Allow",
           "Principal":{"Federated":"arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC"},
           "Action":"sts:AssumeRoleWithWebIdentity"}]}
        managedPolicies: [arn:aws:iam::111111111111:policy/read-a]
        inlinePolicies:
          team-home:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: s3:PutObject
                Resource: arn:aws:s3:::home/${aws:PrincipalTag/team}/*
    users:
      - name: alice
`

func loaded(t *testing.T, opts Options) *IAM {
	t.Helper()
	i, err := New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, i.Close()) })
	require.NoError(t, i.LoadFixtureYAML("sample.yaml", []byte(sampleFixture)))
	return i
}

func TestFixturesAndAuthorize(t *testing.T) {
	i := loaded(t, Options{})
	r, err := i.Role("arn:aws:iam::111111111111:role/app-a")
	require.NoError(t, err)
	require.Equal(t, 2*time.Hour, r.MaxSessionDuration)
	require.Regexp(t, `^AROA[A-Z2-7]{17}$`, r.RoleID)
	_, err = i.Role("arn:aws:iam::111111111111:role/nope")
	require.ErrorIs(t, err, ErrNoSuchEntity)

	p, err := i.OIDCProvider("111111111111", "https://oidc.eks.us-west-2.amazonaws.com/id/ABC")
	require.NoError(t, err)
	require.Equal(t, "arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC", p.ARN)
	for _, iss := range []string{"https://oidc.eks.us-west-2.amazonaws.com/id/ABC/", "https://oidc.eks.us-west-2.amazonaws.com/id/abc", "http://oidc.eks.us-west-2.amazonaws.com/id/ABC"} {
		_, err = i.OIDCProvider("111111111111", iss)
		require.ErrorIs(t, err, ErrNoSuchEntity, iss)
	}
	_, err = i.OIDCProvider("222222222222", "https://oidc.eks.us-west-2.amazonaws.com/id/ABC")
	require.ErrorIs(t, err, ErrNoSuchEntity)

	sess, err := i.IssueSession(SessionSpec{Duration: time.Hour, Principal: Principal{Type: PrincipalAssumedRole, Account: "111111111111",
		RoleARN: r.ARN, ARN: "arn:aws:sts::111111111111:assumed-role/app-a/s", UserID: r.RoleID + ":s"}})
	require.NoError(t, err)
	require.Regexp(t, `^ASIA[A-Z2-7]{16}$`, sess.Credentials.AccessKeyID)
	require.Len(t, sess.Credentials.SecretAccessKey, 40)
	require.Greater(t, len(sess.Credentials.SessionToken), 300)
	creds, who, err := i.LookupAccessKey(sess.Credentials.AccessKeyID)
	require.NoError(t, err)
	require.Equal(t, sess.Credentials, creds)
	require.Equal(t, r.ARN, who.RoleARN)
	_, _, err = i.LookupAccessKey("ASIANOTAKEY")
	require.ErrorIs(t, err, ErrUnknownAccessKey)

	ctx := context.Background()
	ok := i.Authorize(ctx, Request{Principal: who, Action: "s3:GetObject", Resource: "arn:aws:s3:::bucket-a/x", RequestID: "r1"})
	require.True(t, ok.Allowed(), ok.Reason)
	require.Contains(t, ok.Reason, "arn:aws:iam::111111111111:policy/read-a")
	tagged := i.Authorize(ctx, Request{Principal: who, Action: "s3:PutObject", Resource: "arn:aws:s3:::home/a/f"})
	require.True(t, tagged.Allowed(), "role tag team=a feeds aws:PrincipalTag/team: %s", tagged.Reason)
	denied := i.Authorize(ctx, Request{Principal: who, Action: "s3:PutObject", Resource: "arn:aws:s3:::home/b/f"})
	require.Equal(t, ImplicitDeny, denied.Effect)

	ds := i.Decisions(DecisionFilter{RequestID: "r1"})
	require.Len(t, ds, 1)
	require.Equal(t, "s3:GetObject", ds[0].Action)
	require.Len(t, i.Decisions(DecisionFilter{Effect: ImplicitDeny}), 1)
	require.Contains(t, ds[0].Explanation(), "ALLOWED")
	require.Len(t, i.Decisions(DecisionFilter{Effect: "Deny"}), 1, "Deny matches every denial")
	deny := i.Decisions(DecisionFilter{Effect: "Deny"})[0]
	require.Equal(t, "aws", deny.Cloud)
	require.Contains(t, deny.Explanation(), "DENIED")

	srv := httptest.NewServer(i.AdminHandler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/_idlab/iam/users/111111111111/alice/access-keys", "", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	resp.Body.Close()
	resp, err = http.Post(srv.URL+"/_idlab/iam/users/111111111111/bob/access-keys", "", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp.Body.Close()
}

func TestAccessKeysPersist(t *testing.T) {
	dir := t.TempDir()
	i := loaded(t, Options{DataDir: dir})
	creds, err := i.CreateAccessKey("111111111111", "alice")
	require.NoError(t, err)
	require.Regexp(t, `^AKIA[A-Z2-7]{16}$`, creds.AccessKeyID)
	j := loaded(t, Options{DataDir: dir})
	got, who, err := j.LookupAccessKey(creds.AccessKeyID)
	require.NoError(t, err, "keys survive a restart")
	require.Equal(t, creds.SecretAccessKey, got.SecretAccessKey)
	require.Equal(t, PrincipalUser, who.Type)
}

func TestBadFixturesNameFileAndLine(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown top field", "acounts: []\n", `bad.yaml:1: unknown field "acounts"`},
		{"unknown role field", "accounts:\n  - id: \"111111111111\"\n    roles:\n      - name: r\n        trust: {}\n", `bad.yaml:5: unknown field "trust"`},
		{"unquoted short account", "accounts:\n  - id: 1234\n", `bad.yaml:2: account id "1234" must be 12 digits`},
		{"missing trust policy", "accounts:\n  - id: \"111111111111\"\n    roles:\n      - name: r\n", `bad.yaml:4: role "r": trustPolicy is required`},
		{"malformed trust policy", "accounts:\n  - id: \"111111111111\"\n    roles:\n      - name: r\n        trustPolicy: '{\"Statement\":'\n", `bad.yaml:5: role "r" trust policy: Syntax errors in policy.`},
		{"trust policy without principal", "accounts:\n  - id: \"111111111111\"\n    roles:\n      - name: r\n        trustPolicy: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: \"sts:AssumeRole\"}]}\n", `bad.yaml:5: role "r" trust policy: Missing required field Principal`},
		{"identity policy with a principal", "accounts:\n  - id: \"111111111111\"\n    users:\n      - name: u\n        inlinePolicies:\n          p:\n            Statement: [{Effect: Allow, Principal: \"*\", Action: \"s3:*\", Resource: \"*\"}]\n", `bad.yaml:7: inline policy "p": Policy document should not specify a principal.`},
		{"managed policy with a bad effect", "accounts:\n  - id: \"111111111111\"\n    policies:\n      - name: p\n        document:\n          Statement: {Effect: Maybe, Action: \"s3:*\", Resource: \"*\"}\n", `bad.yaml:6: policy "p": Invalid effect: Maybe`},
		{"bad policy version", "accounts:\n  - id: \"111111111111\"\n    policies:\n      - name: p\n        document: {Version: 2012-10-18, Statement: {Effect: Allow, Action: \"s3:*\", Resource: \"*\"}}\n", `bad.yaml:5: policy "p": The policy must contain a valid version string`},
		{"unknown policy element", "accounts:\n  - id: \"111111111111\"\n    policies:\n      - name: p\n        document: {Version: 2012-10-17, Statment: []}\n", `bad.yaml:5: policy "p": Syntax errors in policy.`},
		{"duplicate role", "accounts:\n  - id: \"111111111111\"\n    roles:\n      - name: r\n        trustPolicy: {Statement: [{Effect: Allow, Principal: \"*\", Action: \"sts:AssumeRole\"}]}\n      - name: r\n        trustPolicy: {Statement: [{Effect: Allow, Principal: \"*\", Action: \"sts:AssumeRole\"}]}\n", `bad.yaml:6: role "r": EntityAlreadyExists`},
		{"missing managed policy", "accounts:\n  - id: \"111111111111\"\n    roles:\n      - name: r\n        managedPolicies: [arn:aws:iam::111111111111:policy/nope]\n        trustPolicy: {Statement: [{Effect: Allow, Principal: \"*\", Action: \"sts:AssumeRole\"}]}\n", `bad.yaml:4: role "r": NoSuchEntity`},
		{"bad duration", "accounts:\n  - id: \"111111111111\"\n    roles:\n      - name: r\n        maxSessionDuration: forever\n        trustPolicy: {Statement: [{Effect: Allow, Principal: \"*\", Action: \"sts:AssumeRole\"}]}\n", `bad.yaml:4: role "r": maxSessionDuration "forever"`},
		{"duration out of range", "accounts:\n  - id: \"111111111111\"\n    roles:\n      - name: r\n        maxSessionDuration: 13h\n        trustPolicy: {Statement: [{Effect: Allow, Principal: \"*\", Action: \"sts:AssumeRole\"}]}\n", `between 1h and 12h`},
		{"provider without client IDs", "accounts:\n  - id: \"111111111111\"\n    oidcProviders:\n      - url: https://x\n", `bad.yaml:4: oidc provider: InvalidInput`},
		{"not yaml", "accounts: [\n", `bad.yaml:`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i, err := New(Options{})
			require.NoError(t, err)
			err = i.LoadFixtureYAML("bad.yaml", []byte(tc.doc))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadFixturesDir(t *testing.T) {
	i, err := New(Options{})
	require.NoError(t, err)
	require.NoError(t, i.LoadFixtures("../../fixtures/aws"))
	require.NotEmpty(t, i.Roles())
	require.True(t, strings.HasPrefix(i.Roles()[0].ARN, "arn:aws:iam::"))
}

// Sessions survive a restart with their session policy still enforced.
func TestSessionsPersistWithSessionPolicy(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	i := loaded(t, Options{DataDir: dir, Now: clock})
	role, err := i.Role("arn:aws:iam::111111111111:role/app-a")
	require.NoError(t, err)
	require.Regexp(t, `^AROA[A-Z2-7]{17}$`, role.RoleID)
	sp := MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-a/public/*"}]}`)
	sess, err := i.IssueSession(SessionSpec{Duration: time.Hour, Principal: Principal{Type: PrincipalAssumedRole, Account: "111111111111",
		ARN: "arn:aws:sts::111111111111:assumed-role/app-a/s1", RoleARN: role.ARN, UserID: role.RoleID + ":s1", SessionName: "s1", SessionPolicy: sp}})
	require.NoError(t, err)
	require.Regexp(t, `^ASIA[A-Z2-7]{16}$`, sess.Credentials.AccessKeyID)
	require.Len(t, sess.Credentials.SecretAccessKey, 40)
	require.Greater(t, len(sess.Credentials.SessionToken), 300)
	require.Equal(t, now.Add(time.Hour), sess.Credentials.Expiration)

	j := loaded(t, Options{DataDir: dir, Now: clock})
	role2, err := j.Role(role.ARN)
	require.NoError(t, err)
	require.Equal(t, role.RoleID, role2.RoleID, "role IDs are stable across restarts")
	creds, p, err := j.LookupAccessKey(sess.Credentials.AccessKeyID)
	require.NoError(t, err)
	require.Equal(t, sess.Credentials.SessionToken, creds.SessionToken)
	require.NotNil(t, p.SessionPolicy)
	ctx := context.Background()
	require.Equal(t, Allow, j.Authorize(ctx, Request{Principal: p, Action: "s3:GetObject", Resource: "arn:aws:s3:::bucket-a/public/x"}).Effect)
	d := j.Authorize(ctx, Request{Principal: p, Action: "s3:GetObject", Resource: "arn:aws:s3:::bucket-a/private/x"})
	require.Equal(t, ImplicitDeny, d.Effect, "the reloaded session policy still narrows the role")
	require.Contains(t, d.Reason, "session policy")
	_, _, err = j.LookupAccessKey("ASIANOSUCHKEY00000000")
	require.ErrorIs(t, err, ErrUnknownAccessKey)
}

func TestDecisionRing(t *testing.T) {
	i, err := New(Options{})
	require.NoError(t, err)
	const maxDecisions = decisionlog.DefaultMax
	for k := 0; k < maxDecisions+5; k++ {
		i.Authorize(context.Background(), Request{Principal: Principal{Type: PrincipalAnonymous}, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"})
	}
	ds := i.Decisions(DecisionFilter{})
	require.Len(t, ds, maxDecisions)
	require.EqualValues(t, 6, ds[0].Seq)
	require.EqualValues(t, maxDecisions+5, ds[len(ds)-1].Seq)
	require.Len(t, i.Decisions(DecisionFilter{Since: int64(maxDecisions + 3)}), 2)
	i.ResetDecisions()
	require.Empty(t, i.Decisions(DecisionFilter{}))
	d := i.Authorize(context.Background(), Request{Principal: Principal{Type: PrincipalAnonymous}, Action: "s3:GetObject", Resource: "r"})
	require.Equal(t, strconv.Itoa(maxDecisions+6), d.ID, "IDs keep increasing after a reset")
}

func TestAdminAPI(t *testing.T) {
	i := loaded(t, Options{})
	mux := http.NewServeMux()
	mux.Handle(AdminPrefix, i.AdminHandler())
	mux.Handle("/_idlab/decisions", decisionlog.Handler(i.DecisionLog()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(raw)
	}
	i.Authorize(context.Background(), Request{Principal: Principal{Type: PrincipalAnonymous}, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", RequestID: "q1"})
	tests := []struct {
		name, method, path, body string
		status                   int
		contains                 string
	}{
		{"roles", "GET", "/_idlab/iam/roles", "", 200, `"roleId":"AROA`},
		{"users", "GET", "/_idlab/iam/users", "", 200, `{"arn":"arn:aws:iam::111111111111:user/alice","userId":"AIDA`},
		{"decisions by principal", "GET", "/_idlab/decisions?principal=anonymous&action=s3:getobject", "", 200, `"requestId":"q1"`},
		{"decisions by resource", "GET", "/_idlab/decisions?cloud=aws&resource=arn:aws:s3:::b/k", "", 200, `"requestId":"q1"`},
		{"decisions of another resource", "GET", "/_idlab/decisions?resource=arn:aws:s3:::b/other", "", 200, `[]`},
		{"decisions since the last", "GET", "/_idlab/decisions?since=1", "", 200, `[]`},
		{"decisions are no longer read here", "GET", "/_idlab/iam/decisions", "", 404, `"code":"NotFound"`},
		{"access key for a user", "POST", "/_idlab/iam/users/111111111111/alice/access-keys", "", 201, `"AccessKeyId":"AKIA`},
		{"access key for a missing user", "POST", "/_idlab/iam/users/111111111111/nobody/access-keys", "", 404, `"code":"NoSuchEntity"`},
		{"fixtures", "POST", "/_idlab/iam/fixtures", "accounts:\n  - id: \"333333333333\"\n    users:\n      - name: carol\n", 204, ""},
		{"carol listed", "GET", "/_idlab/iam/users", "", 200, `"arn":"arn:aws:iam::333333333333:user/carol"`},
		{"bad fixtures name the line", "POST", "/_idlab/iam/fixtures", "accounts:\n  - id: \"333\"\n", 400, `request body:2: account id`},
		{"clear decisions", "DELETE", "/_idlab/iam/decisions", "", 204, ""},
		{"decisions cleared", "GET", "/_idlab/decisions", "", 200, `[]`},
		{"unknown endpoint", "GET", "/_idlab/iam/nope", "", 404, `"code":"NotFound"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, status, body)
			require.Contains(t, body, tc.contains)
		})
	}
	_, err := i.CreateAccessKey("333333333333", "carol")
	require.NoError(t, err, "the posted fixture added carol")
}

// Authorize derives the global condition keys from the principal.
func TestAuthorizeGlobalKeys(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	i, err := New(Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	cond := func(op, key, val string) *Policy {
		return MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"` + op + `":{"` + key + `":"` + val + `"}}}]}`)
	}
	require.NoError(t, i.AddUser(User{Account: acctA, Name: "alice", Tags: map[string]string{"team": "a"}}))
	require.NoError(t, i.AddRole(Role{Account: acctA, Name: "app-a", TrustPolicy: MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acctA + `"},"Action":"sts:AssumeRole"}]}`),
		Tags: map[string]string{"team": "r"}}))
	user := Principal{Type: PrincipalUser, Account: acctA, ARN: userA, UserID: "AIDAEXAMPLE"}
	sess := sessionPrincipal(acctA, "app-a", "s1")
	sess.Tags = map[string]string{"team": "session"}
	root := Principal{Type: PrincipalAccount, Account: acctA, ARN: "arn:aws:iam::" + acctA + ":root", UserID: acctA}
	tests := []struct {
		name string
		p    Principal
		pol  *Policy
		ctx  map[string][]string
		want Effect
	}{
		{"aws:username of a user", user, cond("StringEquals", "aws:username", "alice"), nil, Allow},
		{"aws:PrincipalArn of a session is the role ARN", sess, cond("ArnEquals", "aws:PrincipalArn", roleA), nil, Allow},
		{"aws:PrincipalType", sess, cond("StringEquals", "aws:PrincipalType", "AssumedRole"), nil, Allow},
		{"aws:PrincipalAccount", user, cond("StringEquals", "aws:PrincipalAccount", acctA), nil, Allow},
		{"aws:userid of a session", sess, cond("StringLike", "aws:userid", "*:s1"), nil, Allow},
		{"session tags override role tags", sess, cond("StringEquals", "aws:PrincipalTag/team", "session"), nil, Allow},
		{"user tags", user, cond("StringEquals", "aws:PrincipalTag/TEAM", "a"), nil, Allow},
		{"aws:CurrentTime", user, cond("DateLessThan", "aws:CurrentTime", "2026-03-02T00:00:00Z"), nil, Allow},
		{"aws:CurrentTime past", user, cond("DateGreaterThan", "aws:CurrentTime", "2026-03-02T00:00:00Z"), nil, ImplicitDeny},
		{"aws:EpochTime", user, cond("NumericGreaterThan", "aws:EpochTime", "1772000000"), nil, Allow},
		{"aws:SecureTransport from the request", user, cond("Bool", "aws:SecureTransport", "true"), map[string][]string{"aws:SecureTransport": {"true"}}, Allow},
		{"aws:SecureTransport false", user, cond("Bool", "aws:SecureTransport", "true"), map[string][]string{"aws:SecureTransport": {"false"}}, ImplicitDeny},
		{"aws:SourceIp from the request", user, cond("IpAddress", "aws:SourceIp", "10.0.0.0/8"), map[string][]string{"aws:SourceIp": {"10.1.1.1"}}, Allow},
		{"root has everything in its account", root, nil, nil, Allow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := i.Authorize(context.Background(), Request{Principal: tc.p, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", ResourcePolicy: tc.pol, Context: tc.ctx})
			require.Equal(t, tc.want, d.Effect, d.Reason)
		})
	}
	// Across accounts the root user needs the resource policy too.
	d := i.Authorize(context.Background(), Request{Principal: root, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", ResourceAccount: acctB})
	require.Equal(t, ImplicitDeny, d.Effect, d.Reason)
	require.Contains(t, d.Reason, acctB)
}

// The shipped example fixture loads and behaves as its comments say.
func TestExampleFixture(t *testing.T) {
	i, err := New(Options{})
	require.NoError(t, err)
	require.NoError(t, i.LoadFixtures("../../fixtures/aws/example.yaml"))
	mp, err := i.ManagedPolicy("arn:aws:iam::111111111111:policy/example-read-bucket")
	require.NoError(t, err)
	require.Equal(t, "2012-10-17", mp.Document.Version)
	gke, err := i.Role("arn:aws:iam::111111111111:role/federated/example-gke")
	require.NoError(t, err)
	require.Equal(t, time.Hour, gke.MaxSessionDuration)
	p, err := i.OIDCProvider("111111111111", "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE")
	require.NoError(t, err)
	require.Equal(t, []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"}, p.Thumbprints)

	ctx := context.Background()
	creds, err := i.CreateAccessKey("111111111111", "example-user")
	require.NoError(t, err)
	_, user, err := i.LookupAccessKey(creds.AccessKeyID)
	require.NoError(t, err)
	require.Equal(t, "arn:aws:iam::111111111111:user/example-user", user.ARN)
	require.Regexp(t, `^AIDA[A-Z2-7]{17}$`, user.UserID)
	d := i.Authorize(ctx, Request{Principal: user, Action: "s3:GetObject", Resource: "arn:aws:s3:::example-bucket/payments/x"})
	require.Equal(t, Allow, d.Effect, d.Reason)
	d = i.Authorize(ctx, Request{Principal: user, Action: "s3:GetObject", Resource: "arn:aws:s3:::example-bucket/shared/x"})
	require.Equal(t, ImplicitDeny, d.Effect, "the tag wins over the default")

	partner, err := i.Role("arn:aws:iam::222222222222:role/example-partner-reader")
	require.NoError(t, err)
	assume := Request{Principal: user, Action: "sts:AssumeRole", Resource: partner.ARN, ResourceAccount: "222222222222",
		ResourcePolicy: partner.TrustPolicy, Context: map[string][]string{"sts:ExternalId": {"example-external-id"}}}
	d = i.Authorize(ctx, assume)
	require.Equal(t, ImplicitDeny, d.Effect, "the trust names the account: the user's own policies must allow too")
	require.Contains(t, d.Reason, "no identity policy")
}

// A session policy ARN that names an unknown policy grants nothing.
func TestUnknownSessionPolicyARNGrantsNothing(t *testing.T) {
	i := loaded(t, Options{})
	p := sessionPrincipal("111111111111", "app-a", "s1")
	d := i.Authorize(context.Background(), Request{Principal: p, Action: "s3:GetObject", Resource: "arn:aws:s3:::bucket-a/x"})
	require.Equal(t, Allow, d.Effect, d.Reason)
	p.SessionPolicyARNs = []string{"arn:aws:iam::aws:policy/NotLoaded"}
	d = i.Authorize(context.Background(), Request{Principal: p, Action: "s3:GetObject", Resource: "arn:aws:s3:::bucket-a/x"})
	require.Equal(t, ImplicitDeny, d.Effect, d.Reason)
	p.SessionPolicyARNs = []string{"arn:aws:iam::111111111111:policy/read-a"}
	d = i.Authorize(context.Background(), Request{Principal: p, Action: "s3:GetObject", Resource: "arn:aws:s3:::bucket-a/x"})
	require.Equal(t, Allow, d.Effect, d.Reason)
}

func TestLoadFixturesErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("accounts:\n  - id: \"111111111111\"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.yml"), []byte("accounts:\n  - id: \"111111111111\"\n    roles:\n      - name: r\n        maxSessionDuration: 30m\n        trustPolicy: {Statement: {Effect: Allow, Principal: \"*\", Action: \"sts:AssumeRole\"}}\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o600))
	i, err := New(Options{})
	require.NoError(t, err)
	err = i.LoadFixtures(dir)
	var fe *FixtureError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, filepath.Join(dir, "b.yml"), fe.File)
	require.Equal(t, 4, fe.Line)
	require.Contains(t, err.Error(), filepath.Join(dir, "b.yml")+":4: role \"r\"")

	j, err := New(Options{})
	require.NoError(t, err)
	err = j.LoadFixturesFS(fstest.MapFS{"fx/x.yaml": {Data: []byte("accounts:\n  - id: \"1\"\n")}}, "fx")
	require.ErrorContains(t, err, "fx/x.yaml:2: account id")
}

func TestFixtureAliasBomb(t *testing.T) {
	doc := "accounts:\n  - id: \"111111111111\"\n    policies:\n      - name: p\n        document:\n          x0: &a0 [s3, s3, s3, s3, s3, s3, s3, s3, s3, s3]\n"
	for k := 1; k < 9; k++ {
		doc += fmt.Sprintf("          x%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", k, k, k-1, k-1, k-1, k-1, k-1, k-1, k-1, k-1, k-1, k-1)
	}
	i, err := New(Options{})
	require.NoError(t, err)
	start := time.Now()
	err = i.LoadFixtureYAML("bomb.yaml", []byte(doc))
	require.Error(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
}

// A role's trust policy must allow AssumeRole even when an identity policy in
// the same account does (IAM's rule for roles).
func TestSameAccountAssumeRoleNeedsTrust(t *testing.T) {
	i, err := New(Options{})
	require.NoError(t, err)
	require.NoError(t, i.LoadFixtureYAML("t.yaml", []byte(`accounts:
  - id: "111111111111"
    users:
      - name: alice
        inlinePolicies:
          assume: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "sts:AssumeRole", Resource: "*"}]}
    roles:
      - name: trusts-account
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::111111111111:root"}, Action: "sts:AssumeRole"}]}
      - name: trusts-other
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::222222222222:root"}, Action: "sts:AssumeRole"}]}
      - name: trusts-bob
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::111111111111:user/bob"}, Action: "sts:AssumeRole"}]}
      - name: bob-only
        trustPolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "arn:aws:iam::111111111111:user/bob"}, Action: "sts:AssumeRole"}]}
`)))
	alice := Principal{Type: PrincipalUser, Account: "111111111111", ARN: "arn:aws:iam::111111111111:user/alice"}
	bob := Principal{Type: PrincipalUser, Account: "111111111111", ARN: "arn:aws:iam::111111111111:user/bob"}
	tests := []struct {
		who  Principal
		role string
		want Effect
	}{
		{alice, "trusts-account", Allow},      // trust delegates to the account, identity allows
		{alice, "trusts-other", ImplicitDeny}, // identity allows, trust does not: denied
		{bob, "trusts-bob", Allow},            // trust names bob: no identity policy needed
		{alice, "bob-only", ImplicitDeny},
	}
	for _, tc := range tests {
		r, err := i.Role("arn:aws:iam::111111111111:role/" + tc.role)
		require.NoError(t, err)
		d := i.Authorize(context.Background(), Request{Principal: tc.who, Action: "sts:AssumeRole", Resource: r.ARN, ResourcePolicy: r.TrustPolicy})
		require.Equal(t, tc.want, d.Effect, "%s -> %s: %s", tc.who.ARN, tc.role, d.Reason)
	}
}

// TestAgeSessions: only the sessions of the named role age; users' keys,
// other roles' sessions and non-positive durations are left alone.
func TestAgeSessions(t *testing.T) {
	i, err := New(Options{DataDir: t.TempDir()})
	require.NoError(t, err)
	const roleA, roleB = "arn:aws:iam::111111111111:role/a", "arn:aws:iam::111111111111:role/b"
	issue := func(role string) Credentials {
		s, err := i.IssueSession(SessionSpec{Duration: 15 * time.Minute, Principal: Principal{Type: PrincipalAssumedRole, Account: "111111111111", RoleARN: role}})
		require.NoError(t, err)
		return s.Credentials
	}
	a1, a2, b := issue(roleA), issue(roleA), issue(roleB)
	tests := []struct {
		name  string
		role  string
		by    time.Duration
		aged  int
		moved map[string]time.Duration // access key ID -> total shift so far
	}{
		{"zero duration", roleA, 0, 0, map[string]time.Duration{a1.AccessKeyID: 0, a2.AccessKeyID: 0, b.AccessKeyID: 0}},
		{"negative duration", roleA, -time.Minute, 0, map[string]time.Duration{a1.AccessKeyID: 0, b.AccessKeyID: 0}},
		{"unknown role", "arn:aws:iam::111111111111:role/none", time.Minute, 0, map[string]time.Duration{a1.AccessKeyID: 0, b.AccessKeyID: 0}},
		{"empty role", "", time.Minute, 0, map[string]time.Duration{a1.AccessKeyID: 0}},
		{"role a", roleA, 15 * time.Minute, 2, map[string]time.Duration{a1.AccessKeyID: 15 * time.Minute, a2.AccessKeyID: 15 * time.Minute, b.AccessKeyID: 0}},
		{"role b", roleB, time.Minute, 1, map[string]time.Duration{a1.AccessKeyID: 15 * time.Minute, b.AccessKeyID: time.Minute}},
	}
	orig := map[string]time.Time{a1.AccessKeyID: a1.Expiration, a2.AccessKeyID: a2.Expiration, b.AccessKeyID: b.Expiration}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.aged, i.AgeSessions(tc.role, tc.by))
			for id, shift := range tc.moved {
				c, _, err := i.LookupAccessKey(id)
				require.NoError(t, err)
				require.Equal(t, orig[id].Add(-shift), c.Expiration, id)
			}
		})
	}
	// Aged expiry survives a restart over the same data dir.
	j, err := New(Options{DataDir: i.dataDir})
	require.NoError(t, err)
	c, _, err := j.LookupAccessKey(b.AccessKeyID)
	require.NoError(t, err)
	require.Equal(t, b.Expiration.Add(-time.Minute), c.Expiration)
}

// TestSetSessionAge: sessions issued to the named role after the call start
// that old; a later call replaces the age and 0 or less ends it; sessions
// already issued and other roles' are left alone; the aged expiry is what
// is stored and survives a restart, while the control itself does not.
func TestSetSessionAge(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	i, err := New(Options{DataDir: t.TempDir(), Now: func() time.Time { return now }})
	require.NoError(t, err)
	const roleA, roleB = "arn:aws:iam::111111111111:role/a", "arn:aws:iam::111111111111:role/b"
	issue := func(i *IAM, role string) *Session {
		s, err := i.IssueSession(SessionSpec{Duration: 15 * time.Minute, Principal: Principal{Type: PrincipalAssumedRole, Account: "111111111111", RoleARN: role}})
		require.NoError(t, err)
		return s
	}
	before := issue(i, roleA)
	tests := []struct {
		name     string
		role     string
		age      time.Duration
		issuedTo string
		lifetime time.Duration // of a session of issuedTo issued then
	}{
		{"nothing set", roleA, 0, roleA, 15 * time.Minute},
		{"role a", roleA, 11 * time.Minute, roleA, 4 * time.Minute},
		{"other role untouched", roleB, 0, roleB, 15 * time.Minute},
		{"set again: replaced, not added", roleA, 12 * time.Minute, roleA, 3 * time.Minute},
		{"past the duration: issued expired", roleA, 17 * time.Minute, roleA, -2 * time.Minute},
		{"zero ends it", roleA, 0, roleA, 15 * time.Minute},
		{"negative ends it", roleA, -time.Minute, roleA, 15 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i.SetSessionAge(tc.role, tc.age)
			s := issue(i, tc.issuedTo)
			require.Equal(t, now.Add(tc.lifetime), s.Credentials.Expiration)
			require.Equal(t, now.Add(tc.lifetime-15*time.Minute), s.IssuedAt)
			stored, _, err := i.LookupAccessKey(s.Credentials.AccessKeyID)
			require.NoError(t, err)
			require.Equal(t, s.Credentials.Expiration, stored.Expiration)
		})
	}
	c, _, err := i.LookupAccessKey(before.Credentials.AccessKeyID)
	require.NoError(t, err)
	require.Equal(t, now.Add(15*time.Minute), c.Expiration, "a session issued before is not aged")

	i.SetSessionAge(roleA, 11*time.Minute)
	aged := issue(i, roleA)
	j, err := New(Options{DataDir: i.dataDir, Now: func() time.Time { return now }})
	require.NoError(t, err)
	c, _, err = j.LookupAccessKey(aged.Credentials.AccessKeyID)
	require.NoError(t, err)
	require.Equal(t, aged.Credentials.Expiration, c.Expiration, "the aged expiry survives a restart")
	require.Equal(t, now.Add(15*time.Minute), issue(j, roleA).Credentials.Expiration, "the control does not")
}

// The decision log explains a decision when it is read, in the words
// Decision.Explain uses.
func TestRecordedDecisionExplainsOnRead(t *testing.T) {
	i := loaded(t, Options{})
	p := Principal{Type: PrincipalAssumedRole, Account: "111111111111", RoleARN: "arn:aws:iam::111111111111:role/app-a",
		ARN: "arn:aws:sts::111111111111:assumed-role/app-a/s", UserID: "AROA:s", Tags: map[string]string{"team": "a"}}
	for _, tc := range []struct {
		resource string
		effect   Effect
	}{
		{"arn:aws:s3:::home/a/x", Allow},        // the tag the policy variable needs
		{"arn:aws:s3:::home/b/x", ImplicitDeny}, // another team's home
	} {
		d := i.Authorize(context.Background(), Request{Principal: p, Action: "s3:PutObject", Resource: tc.resource, RequestID: "r-" + tc.resource})
		require.Equal(t, tc.effect, d.Effect, tc.resource)
		got := i.Decisions(DecisionFilter{RequestID: "r-" + tc.resource})
		require.Len(t, got, 1)
		require.Equal(t, d.Explain(), got[0].Explanation())
		require.Equal(t, d.ID, strconv.FormatInt(got[0].Seq, 10))
	}
}

// Session tokens come from the cache as they would be derived, whichever
// slot two keys share.
func TestTokenCache(t *testing.T) {
	i, err := New(Options{})
	require.NoError(t, err)
	derived := 0
	derive := func(id string) string { derived++; return i.sessionToken(id) }
	var c tokenCache
	ids := make([]string, 3*tokenSlots)
	for k := range ids {
		ids[k] = fmt.Sprintf("ASIA%016d", k)
	}
	for round := range 2 {
		for _, id := range ids {
			require.Equal(t, i.sessionToken(id), c.get(id, derive), "round %d, %s", round, id)
		}
	}
	require.Greater(t, derived, len(ids), "more keys than slots: some are derived again")
	derived = 0
	require.Equal(t, i.sessionToken(ids[len(ids)-1]), c.get(ids[len(ids)-1], derive))
	require.Zero(t, derived, "the last key is cached")
}
