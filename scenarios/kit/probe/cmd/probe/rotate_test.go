package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

const (
	testIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/0000000000000000000000000000ABCD"
	testRole   = "arn:aws:iam::123456789012:role/rotating"
)

const testFixture = `accounts:
  - id: "123456789012"
    oidcProviders:
      - url: ` + testIssuer + `
        clientIDs: [sts.amazonaws.com]
    roles:
      - name: rotating
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Federated: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/0000000000000000000000000000ABCD"}
              Action: sts:AssumeRoleWithWebIdentity
              Condition:
                StringEquals:
                  "oidc.eks.us-west-2.amazonaws.com/id/0000000000000000000000000000ABCD:sub": system:serviceaccount:ns:app
        inlinePolicies:
          read-one-object:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: s3:GetObject
                Resource: arn:aws:s3:::probe-data/hello.txt
    buckets:
      - name: probe-data
        region: us-west-2
        objects: {hello.txt: "hello", secret.txt: "not for the role"}
`

// syncBuffer is a bytes.Buffer safe for the probe and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rotationLab is the emulators in process with one issuer, a role trusting
// ns/app, and the SDK environment an IRSA pod has.
func rotationLab(t *testing.T) (*cloud.Cloud, *oidc.Issuer, string) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "fixtures"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "fixtures", "iam.yaml"), []byte(testFixture), 0o644))
	c, err := cloud.New(cloud.Config{DataDir: filepath.Join(dir, "data"), FixturesDir: filepath.Join(dir, "fixtures")})
	require.NoError(t, err)
	require.NoError(t, c.Start())
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	iss, err := c.OIDC.AddIssuer(testIssuer)
	require.NoError(t, err)
	_, err = iss.AddKey("RS256")
	require.NoError(t, err)
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, c.CA.PEM, 0o644))
	tokenFile := filepath.Join(dir, "token")
	for k, v := range map[string]string{
		"AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": testRole, "AWS_ROLE_SESSION_NAME": "probe",
		"AWS_ENDPOINT_URL_STS": c.URL(), "AWS_CA_BUNDLE": caFile, "AWS_REGION": "us-west-2",
		"AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"),
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
	return c, iss, tokenFile
}

func mintTo(t *testing.T, iss *oidc.Issuer, file string, issuedAt time.Time) probe.TokenInfo {
	t.Helper()
	tok, err := iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: "ns", ServiceAccount: "app",
		Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: 600, IssuedAt: issuedAt})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file+".tmp", []byte(tok), 0o600))
	require.NoError(t, os.Rename(file+".tmp", file)) // as the kubelet's atomic writer swaps it
	ti, err := probe.ParseToken(tok)
	require.NoError(t, err)
	return ti
}

// TestRotation: the token in the file is replaced once STS has accepted it
// (a condition, not a time); the re-reading SDK trades the new one and
// never fails, the caching one keeps presenting the old one and, once the
// lab clock is past its exp, gets ExpiredTokenException.
func TestRotation(t *testing.T) {
	for _, cached := range []bool{false, true} {
		name := map[bool]string{false: "rotate", true: "rotate-cached"}[cached]
		t.Run(name, func(t *testing.T) {
			lab, iss, file := rotationLab(t)
			old := mintTo(t, iss, file, lab.Clock.Now().Add(-300*time.Second)) // 300 s left
			var out syncBuffer
			// window = sessionDuration: the SDK re-assumes the role before
			// every call, so each call presents the token of the moment.
			r := &rotation{cached: cached, tokenFile: file, maxRun: time.Minute, interval: 50 * time.Millisecond,
				out: &out, window: sessionDuration}
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			done := make(chan probe.Result, 1)
			go func() { done <- r.run(ctx) }()
			require.Eventually(t, func() bool { return r.tokensAccepted() == 1 }, 30*time.Second, 10*time.Millisecond,
				"STS accepts the first token: %s", out.String())
			fresh := mintTo(t, iss, file, lab.Clock.Now())
			if cached {
				// Only the caching SDK's row needs the old token expired;
				// the re-reading one could have read the file just before
				// the swap, and its refresh must not be refused for that.
				lab.Clock.Advance(301 * time.Second)
			}
			res := <-done
			calls, err := probe.ParseCalls(out.String())
			require.NoError(t, err)
			presented := map[string]bool{}
			for _, c := range calls {
				if c.Op == "AssumeRoleWithWebIdentity" && c.OK {
					require.NotNil(t, c.Token)
					require.NotEmpty(t, c.RequestID)
					presented[c.Token.ID] = true
				}
			}
			if !cached {
				require.True(t, res.OK, "%+v", res)
				require.Equal(t, map[string]bool{old.ID: true, fresh.ID: true}, presented)
				last := calls[len(calls)-1]
				require.Equal(t, "GetCallerIdentity", last.Op)
				require.Equal(t, fresh.ID, last.FileToken.ID)
				require.NotEmpty(t, last.AccessKeyID)
				return
			}
			require.False(t, res.OK)
			require.Equal(t, "ExpiredTokenException", res.ErrorCode, res.ErrorMessage)
			require.Equal(t, map[string]bool{old.ID: true}, presented)
			last := calls[len(calls)-1]
			require.Equal(t, "GetCallerIdentity", last.Op)
			require.False(t, last.OK)
			refused := calls[len(calls)-2]
			require.Equal(t, "AssumeRoleWithWebIdentity", refused.Op)
			require.Equal(t, old.ID, refused.Token.ID)
			require.Equal(t, "ExpiredTokenException", refused.ErrorCode)
			require.NotEmpty(t, refused.RequestID)
		})
	}
}

// TestRotationDeadline: a run ends at SECONDS after its start, or sooner at
// the token file's exp + expiryGrace; a file without a readable exp leaves
// SECONDS alone.
func TestRotationDeadline(t *testing.T) {
	start := time.Unix(10_000, 0)
	token := func(exp int64) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(fmt.Sprintf(`{"jti":"j","iat":%d,"exp":%d}`, exp-600, exp))) + ".c2ln"
	}
	tests := []struct {
		name  string
		token string // "" leaves no file
		want  time.Time
	}{
		{name: "exp before SECONDS", token: token(10_060), want: time.Unix(10_060, 0).Add(expiryGrace)},
		{name: "exp + grace after SECONDS", token: token(10_600), want: start.Add(10 * time.Minute)},
		{name: "no token file", want: start.Add(10 * time.Minute)},
		{name: "not a JWT", token: "opaque", want: start.Add(10 * time.Minute)},
		{name: "no exp claim", token: "e30." + base64.RawURLEncoding.EncodeToString([]byte(`{"jti":"j","iat":1}`)) + ".c2ln", want: start.Add(10 * time.Minute)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "token")
			if tc.token != "" {
				require.NoError(t, os.WriteFile(file, []byte(tc.token), 0o600))
			}
			r := &rotation{tokenFile: file, maxRun: 10 * time.Minute}
			require.Equal(t, tc.want, r.deadline(start))
		})
	}
}
