package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

const (
	azTenant = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	azApp    = "09999999-9999-4999-8999-999999999999"
)

// azStaleLab is the composed cloud with one issuer and an Entra app
// federated with its ns/az service account.
func azStaleLab(t *testing.T) (*cloud.Cloud, *oidc.Issuer, string) {
	t.Helper()
	dir := t.TempDir()
	fixture := "tenants:\n  - id: " + azTenant + "\n    name: idlab\n    apps:\n      - clientId: " + azApp +
		"\n        federatedCredentials:\n          - {name: az, issuer: \"" + testIssuer + "\", subject: \"system:serviceaccount:ns:az\"}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "azure.yaml"), []byte(fixture), 0o644))
	c, err := cloud.New(cloud.Config{DataDir: filepath.Join(dir, "data"), AzureFixtures: filepath.Join(dir, "azure.yaml")})
	require.NoError(t, err)
	require.NoError(t, c.Start())
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	iss, err := c.OIDC.AddIssuer(testIssuer)
	require.NoError(t, err)
	_, err = iss.AddKey("RS256")
	require.NoError(t, err)
	return c, iss, filepath.Join(dir, "token")
}

func mintAz(t *testing.T, iss *oidc.Issuer, file string, issuedAt time.Time) probe.TokenInfo {
	t.Helper()
	tok, err := iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: "ns", ServiceAccount: "az",
		Audiences: []string{entra.DefaultFederatedAudience}, ExpirationSeconds: 600, IssuedAt: issuedAt})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file+".tmp", []byte(tok), 0o600))
	require.NoError(t, os.Rename(file+".tmp", file))
	ti, err := probe.ParseToken(tok)
	require.NoError(t, err)
	return ti
}

// TestAzStale: both clients go to Entra every round (the claims challenge
// bypasses MSAL's cache), each call line naming the token presented and
// Entra's trace ID, which is its decision's request ID. Once the lab clock
// is past the first token's exp + 5 minutes, the read-once client, still
// presenting it though the file holds a new token, is refused with
// AADSTS700024; azidentity, whose copy of the file is younger than its 10
// minutes, presents the same token and is refused too: it re-reads only
// then (azidentity v1.15.0 workload_identity.go), which the e2e row waits
// out in real time.
func TestAzStale(t *testing.T) {
	lab, iss, file := azStaleLab(t)
	first := mintAz(t, iss, file, lab.Clock.Now())
	var out syncBuffer
	a := &azStale{tokenFile: file, tenant: azTenant, clientID: azApp, scope: "https://storage.azure.com/.default",
		maxRun: 3 * time.Second, interval: 50 * time.Millisecond, out: &out, transport: lab.Client()}
	done := make(chan probe.Result, 1)
	go func() { done <- a.run(context.Background()) }()
	require.Eventually(t, func() bool {
		calls, _ := probe.ParseCalls(out.String())
		return len(calls) >= 4
	}, 30*time.Second, 10*time.Millisecond, "two rounds: %s", out.String())
	fresh := mintAz(t, iss, file, lab.Clock.Now().Add(600*time.Second))
	lab.Clock.Advance(600*time.Second + entraLeeway + time.Second)
	res := <-done
	calls, err := probe.ParseCalls(out.String())
	require.NoError(t, err)

	ds := lab.Entra.Decisions()
	byTrace := map[string]bool{}
	for _, d := range ds {
		byTrace[d.RequestID] = d.Allowed()
	}
	var refused int
	sawFresh := false
	for _, c := range calls {
		require.Contains(t, []string{ReadOnce, WorkloadIdentity}, c.Op)
		require.NotNil(t, c.Token, "%+v", c)
		require.Equal(t, first.ID, c.Token.ID, "%s presented the first token", c.Op)
		require.NotEmpty(t, c.RequestID)
		allowed, ok := byTrace[c.RequestID]
		require.True(t, ok, "Entra decided on every call (%s)", c.RequestID)
		require.Equal(t, c.OK, allowed)
		if !c.OK {
			refused++
			require.Equal(t, "AADSTS700024", c.ErrorCode)
		}
		if c.FileToken != nil && c.FileToken.ID == fresh.ID {
			sawFresh = true
		}
	}
	require.Equal(t, len(calls), len(ds), "one token request per call: MSAL's cache never answered")
	require.Positive(t, refused)
	require.True(t, sawFresh, "the file held the new token meanwhile")
	require.False(t, res.OK)
	require.Equal(t, "AADSTS700024", res.ErrorCode)
}

func TestAzStaleUsage(t *testing.T) {
	require.Equal(t, "UsageError", runAzStale([]string{"az-stale", "60", "x"}).ErrorCode)
	require.Equal(t, "UsageError", runAzStale([]string{"az-stale", "1", "2", "3"}).ErrorCode)
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", "")
	require.Equal(t, "ConfigError", runAzStale([]string{"az-stale", "1", "1"}).ErrorCode)
}
