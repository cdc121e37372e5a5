package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/scenarios/internal/probe"
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
func rotationLab(t *testing.T) (*oidc.Issuer, string) {
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
	return iss, tokenFile
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

// TestRotation: a token about to expire is replaced in the file while the
// probe runs; the re-reading SDK trades the new one and never fails, the
// caching one keeps presenting the old one and gets ExpiredTokenException.
func TestRotation(t *testing.T) {
	for _, cached := range []bool{false, true} {
		name := map[bool]string{false: "rotate", true: "rotate-cached"}[cached]
		t.Run(name, func(t *testing.T) {
			iss, file := rotationLab(t)
			old := mintTo(t, iss, file, time.Now().Add(-597*time.Second)) // expires in 3 s
			var out syncBuffer
			r := &rotation{cached: cached, tokenFile: file, maxRun: 10 * time.Second, interval: 250 * time.Millisecond,
				out: &out, window: sessionDuration}
			done := make(chan probe.Result)
			go func() { done <- r.run(context.Background()) }()
			time.Sleep(time.Second)
			fresh := mintTo(t, iss, file, time.Now())
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
