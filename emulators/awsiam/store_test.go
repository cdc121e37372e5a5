package awsiam

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
	require.Contains(t, ds[0].Explain(), "ALLOWED")

	// The admin API serves the same log.
	srv := httptest.NewServer(i.AdminHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/_idlab/iam/decisions?effect=ImplicitDeny")
	require.NoError(t, err)
	var got []map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	resp.Body.Close()
	require.Len(t, got, 1)
	require.Contains(t, got[0]["explanation"], "DENIED")
	resp, err = http.Post(srv.URL+"/_idlab/iam/users/111111111111/alice/access-keys", "", nil)
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
		{"trust policy without principal", "accounts:\n  - id: \"111111111111\"\n    roles:\n      - name: r\n        trustPolicy: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: \"sts:AssumeRole\"}]}\n", `bad.yaml:4: role "r": role "r" trust policy: Missing required field Principal`},
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
