package awssts_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
)

// sessionFixture has roles whose trust policies gate session tags and
// source identity.
const sessionFixture = `accounts:
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
              Condition: {StringEquals: {"` + issuerHost + `:sub": system:serviceaccount:team-a:app-a}}
        inlinePolicies:
          chain:
            Version: "2012-10-17"
            Statement:
              - {Effect: Allow, Action: [sts:AssumeRole, sts:TagSession, sts:SetSourceIdentity], Resource: "*"}
      - name: web-tags
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Federated: "arn:aws:iam::111111111111:oidc-provider/` + issuerHost + `"}
              Action: [sts:AssumeRoleWithWebIdentity, sts:TagSession, sts:SetSourceIdentity]
              Condition: {StringEquals: {"` + issuerHost + `:sub": system:serviceaccount:team-a:app-a}}
      - name: web-notag
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Federated: "arn:aws:iam::111111111111:oidc-provider/` + issuerHost + `"}
              Action: sts:AssumeRoleWithWebIdentity
  - id: "222222222222"
    roles:
      - name: tagged-b
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {AWS: "arn:aws:iam::111111111111:role/app-a"}
              Action: [sts:AssumeRole, sts:SetSourceIdentity]
            - Effect: Allow
              Principal: {AWS: "arn:aws:iam::111111111111:role/app-a"}
              Action: sts:TagSession
              Condition: {StringEquals: {"aws:RequestTag/team": a}}
        inlinePolicies:
          chain: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: [sts:AssumeRole, sts:SetSourceIdentity], Resource: "*"}]}
      - name: tagged-c
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {AWS: "arn:aws:iam::222222222222:role/tagged-b"}
              Action: [sts:AssumeRole, sts:SetSourceIdentity]
              Condition: {StringEquals: {"sts:SourceIdentity": alice}}
`

func TestSDKSessionTagsAndSourceIdentityThroughAChain(t *testing.T) {
	l := newLabWith(t, sessionFixture, true)
	ctx := context.Background()
	l.sdkEnv(t, l.mint(t, "team-a", "app-a", "sts.amazonaws.com"), "arn:aws:iam::111111111111:role/app-a")
	base, err := config.LoadDefaultConfig(ctx)
	require.NoError(t, err)

	type hop struct {
		role       string
		tags       map[string]string
		transitive []string
		sourceID   string
	}
	provider := func(parent aws.Config, h hop) aws.Config {
		cfg := parent.Copy()
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(parent), h.role, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "hop"
			for k, v := range h.tags {
				o.Tags = append(o.Tags, ststypes.Tag{Key: aws.String(k), Value: aws.String(v)})
			}
			o.TransitiveTagKeys = h.transitive
			if h.sourceID != "" {
				o.SourceIdentity = aws.String(h.sourceID)
			}
		}))
		return cfg
	}
	tests := []struct {
		name     string
		hops     []hop
		wantCode string
	}{
		{"tags and source identity carried two hops", []hop{
			{role: "arn:aws:iam::222222222222:role/tagged-b", tags: map[string]string{"team": "a"}, transitive: []string{"team"}, sourceID: "alice"},
			{role: "arn:aws:iam::222222222222:role/tagged-c"},
		}, ""},
		{"tag value the trust policy does not allow", []hop{{role: "arn:aws:iam::222222222222:role/tagged-b", tags: map[string]string{"team": "b"}}}, "AccessDenied"},
		{"source identity starting aws:", []hop{{role: "arn:aws:iam::222222222222:role/tagged-b", sourceID: "aws:alice"}}, "ValidationError"},
		{"transitive key not among the tags", []hop{{role: "arn:aws:iam::222222222222:role/tagged-b", tags: map[string]string{"team": "a"}, transitive: []string{"env"}}}, "InvalidParameterValue"},
		{"source identity cannot change in a chain", []hop{
			{role: "arn:aws:iam::222222222222:role/tagged-b", sourceID: "alice"},
			{role: "arn:aws:iam::222222222222:role/tagged-c", sourceID: "bob"},
		}, "AccessDenied"},
		{"next trust policy requires a source identity", []hop{
			{role: "arn:aws:iam::222222222222:role/tagged-b"},
			{role: "arn:aws:iam::222222222222:role/tagged-c"},
		}, "AccessDenied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			for _, h := range tc.hops {
				cfg = provider(cfg, h)
			}
			creds, err := cfg.Credentials.Retrieve(ctx)
			if tc.wantCode != "" {
				require.Error(t, err)
				require.Equal(t, tc.wantCode, apiCode(t, err), err.Error())
				return
			}
			require.NoError(t, err)
			out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			require.NoError(t, err)
			require.Equal(t, "arn:aws:sts::222222222222:assumed-role/tagged-c/hop", aws.ToString(out.Arn))
			_, who, err := l.iam.LookupAccessKey(creds.AccessKeyID)
			require.NoError(t, err)
			require.Equal(t, map[string]string{"team": "a"}, who.Tags, "transitive tag carried to the second hop")
			require.Equal(t, "alice", who.SourceIdentity)
			require.True(t, who.Chained)
		})
	}
}

func TestWebIdentitySessionTagClaims(t *testing.T) {
	l := newLabWith(t, sessionFixture, true)
	now := time.Now()
	claims := func(extra map[string]any) map[string]any {
		m := map[string]any{"iss": issuerURL, "sub": "system:serviceaccount:team-a:app-a", "aud": "sts.amazonaws.com",
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tagClaim := map[string]any{"https://aws.amazon.com/tags": map[string]any{
		"principal_tags":      map[string]any{"team": []string{"a"}, "env": []string{"dev"}},
		"transitive_tag_keys": []string{"team"},
	}, "https://aws.amazon.com/source_identity": "alice"}
	tests := []struct {
		name     string
		role     string
		extra    map[string]any
		wantCode string
	}{
		{"trust allows tags and source identity", "web-tags", tagClaim, ""},
		{"trust lacks sts:TagSession", "web-notag", tagClaim, "AccessDenied"},
		{"no tag claims need no sts:TagSession", "web-notag", nil, ""},
		{"tag value not a one-element array", "web-tags", map[string]any{"https://aws.amazon.com/tags": map[string]any{"principal_tags": map[string]any{"team": "a"}}}, "InvalidIdentityToken"},
		{"transitive key not a tag", "web-tags", map[string]any{"https://aws.amazon.com/tags": map[string]any{"principal_tags": map[string]any{"team": []string{"a"}}, "transitive_tag_keys": []string{"env"}}}, "InvalidIdentityToken"},
		{"source identity with a space", "web-tags", map[string]any{"https://aws.amazon.com/source_identity": "al ice"}, "InvalidIdentityToken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := l.issuer.Sign(claims(tc.extra))
			require.NoError(t, err)
			status, e, body := postWebIdentity(t, l, webIdentityForm(tok, "arn:aws:iam::111111111111:role/"+tc.role))
			if tc.wantCode != "" {
				require.Equal(t, tc.wantCode, e.Error.Code, body)
				return
			}
			require.Equal(t, http.StatusOK, status, body)
			var resp struct {
				Result struct {
					Credentials    struct{ AccessKeyId string }
					SourceIdentity string
				} `xml:"AssumeRoleWithWebIdentityResult"`
			}
			require.NoError(t, xml.Unmarshal([]byte(body), &resp))
			_, who, err := l.iam.LookupAccessKey(resp.Result.Credentials.AccessKeyId)
			require.NoError(t, err)
			if tc.extra == nil {
				require.Empty(t, who.Tags)
				require.Empty(t, resp.Result.SourceIdentity)
				return
			}
			require.Equal(t, map[string]string{"team": "a", "env": "dev"}, who.Tags)
			require.Equal(t, "alice", who.SourceIdentity)
			require.Equal(t, "alice", resp.Result.SourceIdentity)
		})
	}
}

func TestServerClockAdmin(t *testing.T) {
	get := func(t *testing.T, l *lab, method, path string) (int, map[string]any) {
		t.Helper()
		admin := httptest.NewServer(l.sts.AdminHandler())
		defer admin.Close()
		req, err := http.NewRequest(method, admin.URL+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var out map[string]any
		if strings.HasPrefix(strings.TrimSpace(string(raw)), "{") {
			require.NoError(t, json.Unmarshal(raw, &out), string(raw))
		}
		return resp.StatusCode, out
	}

	t.Run("owned clock moves token expiry", func(t *testing.T) {
		l := newLabWith(t, fixture, false)
		require.NotNil(t, l.sts.Clock())
		tok, err := l.issuer.MintServiceAccountToken(oidc.TokenRequest{Namespace: "team-a", ServiceAccount: "app-a", Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: 3600})
		require.NoError(t, err)
		status, _, body := postWebIdentity(t, l, webIdentityForm(tok, roleAppA))
		require.Equal(t, http.StatusOK, status, body)

		code, out := get(t, l, http.MethodPost, "/_idlab/clock/advance?seconds=7200")
		require.Equal(t, http.StatusOK, code)
		require.EqualValues(t, 7200, out["offsetSeconds"])
		code, out = get(t, l, http.MethodGet, "/_idlab/clock")
		require.Equal(t, http.StatusOK, code)
		require.EqualValues(t, 7200, out["offsetSeconds"])

		_, e, _ := postWebIdentity(t, l, webIdentityForm(tok, roleAppA))
		require.Equal(t, "ExpiredTokenException", e.Error.Code)
		require.Regexp(t, `^Token expired: current date/time \d+ must be before the expiration date/time \d+$`, e.Error.Message)

		code, _ = get(t, l, http.MethodPost, "/_idlab/clock/advance?seconds=-5")
		require.Equal(t, http.StatusBadRequest, code)
	})
	t.Run("shared clock is not the server's to move", func(t *testing.T) {
		l := newLab(t)
		require.Nil(t, l.sts.Clock())
		code, out := get(t, l, http.MethodPost, "/_idlab/clock/advance?seconds=60")
		require.Equal(t, http.StatusConflict, code)
		require.Equal(t, "ClockShared", out["error"])
	})
	t.Run("IAM admin is delegated", func(t *testing.T) {
		l := newLab(t)
		admin := httptest.NewServer(l.sts.AdminHandler())
		defer admin.Close()
		resp, err := http.Get(admin.URL + "/_idlab/iam/roles")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Contains(t, string(raw), roleAppA)
	})
	t.Run("the server's URL is STS only", func(t *testing.T) {
		l := newLabWith(t, fixture, false)
		for _, tc := range []struct{ method, path string }{
			{http.MethodGet, "/_idlab/iam/roles"}, {http.MethodDelete, "/_idlab/iam/decisions"},
			{http.MethodPost, "/_idlab/clock/advance?seconds=7200"}, {http.MethodGet, "/_idlab/clock"},
		} {
			req, err := http.NewRequest(tc.method, l.sts.URL()+tc.path, nil)
			require.NoError(t, err)
			resp, err := l.sts.Client().Do(req)
			require.NoError(t, err)
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %s: %s", tc.method, tc.path, raw)
			require.Contains(t, string(raw), "<Code>InvalidAction</Code>")
		}
		require.Zero(t, l.sts.Clock().Offset(), "the clock did not move")
	})
}

// The EKS authenticator token: a presigned GetCallerIdentity URL whose
// signed x-k8s-aws-id header names the cluster.
func TestPresignedGetCallerIdentity(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	l.sdkEnv(t, l.mint(t, "team-a", "app-a", "sts.amazonaws.com"), roleAppA)
	cfg, err := config.LoadDefaultConfig(ctx)
	require.NoError(t, err)
	presigner := sts.NewPresignClient(sts.NewFromConfig(cfg))
	req, err := presigner.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	require.Equal(t, http.MethodGet, req.Method)

	do := func(rawURL string, hdr http.Header) (int, string) {
		r, err := http.NewRequest(http.MethodGet, rawURL, nil)
		require.NoError(t, err)
		for k, v := range hdr {
			r.Header[k] = v
		}
		resp, err := l.sts.Client().Do(r)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(raw)
	}
	status, body := do(req.URL, req.SignedHeader)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "<Arn>arn:aws:sts::111111111111:assumed-role/app-a/pod-session</Arn>")

	u, err := url.Parse(req.URL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("Action", "GetSessionToken")
	u.RawQuery = q.Encode()
	status, body = do(u.String(), req.SignedHeader)
	require.Equal(t, http.StatusBadRequest, status, body) // unknown action before auth
	q.Set("Action", "GetCallerIdentity")
	q.Set("X-Amz-Expires", "901")
	u.RawQuery = q.Encode()
	status, body = do(u.String(), req.SignedHeader)
	require.Equal(t, http.StatusForbidden, status, body)
	require.Contains(t, body, "<Code>SignatureDoesNotMatch</Code>")

	// STS ignores X-Amz-Expires: a presigned URL lives 15 minutes.
	l.clock.Advance(14 * time.Minute)
	status, body = do(req.URL, req.SignedHeader)
	require.Equal(t, http.StatusOK, status, body)
	l.clock.Advance(2 * time.Minute)
	status, body = do(req.URL, req.SignedHeader)
	require.Equal(t, http.StatusForbidden, status, body)
	require.Contains(t, body, "<Code>SignatureDoesNotMatch</Code><Message>Signature expired: ")
}
