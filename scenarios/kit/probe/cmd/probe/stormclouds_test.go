package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/idlab/idlab/idlabtest"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

// Two storm pods' Google identities: storm-001's KSA is bound to its GSA,
// which alone reads storm-001-data; storm-002's GSA alone reads
// storm-002-data.
const stormGoogleFixture = `projects:
  - id: idlab
    number: "123456789012"
    serviceAccounts:
      - {id: storm-001}
      - {id: storm-002}
    workloadIdentityPools:
      - {id: idlab.svc.id.goog, issuer: "` + idlabtest.DefaultGKEIssuer + `"}
    bindings:
      - {resource: projects/idlab/serviceAccounts/storm-001@idlab.iam.gserviceaccount.com, role: roles/iam.workloadIdentityUser,
         members: ["serviceAccount:idlab.svc.id.goog[idlab-storm/storm-001]"]}
      - {resource: projects/_/buckets/storm-001-data, role: roles/storage.objectViewer, members: ["serviceAccount:storm-001@idlab.iam.gserviceaccount.com"]}
      - {resource: projects/_/buckets/storm-002-data, role: roles/storage.objectViewer, members: ["serviceAccount:storm-002@idlab.iam.gserviceaccount.com"]}
    buckets:
      - {name: storm-001-data, objects: {secret.txt: "text of 001"}}
      - {name: storm-002-data, objects: {secret.txt: "text of 002"}}
`

func writeFixture(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fixture.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// TestStormGCS: the storm-gcs mode gets one token (one generateAccessToken
// at Google IAM for the whole run), reads the pod's own bucket and
// reports Cloud Storage's refusal of the other as HTTP403, both decided
// for the pod's own service account; a refused exchange reads nothing.
func TestStormGCS(t *testing.T) {
	const gsa = "storm-001@idlab.iam.gserviceaccount.com"
	tests := []struct {
		name, ksa    string
		exchangeOK   bool
		wantDecision map[string]string // bucket resource -> effect, for the GSA
	}{
		{name: "bound KSA", ksa: "storm-001", exchangeOK: true,
			wantDecision: map[string]string{"projects/_/buckets/storm-001-data": "Allow", "projects/_/buckets/storm-002-data": "Deny"}},
		{name: "KSA not bound to the GSA", ksa: "storm-002"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := idlabtest.NewGoogle(t, idlabtest.GoogleOptions{Fixtures: []string{writeFixture(t, stormGoogleFixture)}})
			ctx := context.Background()
			ts, err := g.TokenSource(ctx, "idlab.svc.id.goog", "idlab-storm", tc.ksa, gsa)
			require.NoError(t, err)
			newClient := func(ctx context.Context, ts oauth2.TokenSource) (*storage.Client, error) {
				hc := oauth2.NewClient(context.WithValue(ctx, oauth2.HTTPClient, g.Storage.Client()), ts)
				return storage.NewClient(ctx, option.WithEndpoint(g.Storage.URL()+"/storage/v1/"), option.WithHTTPClient(hc))
			}
			got := stormGCS(ctx, ts, newClient, "storm-001-data", "secret.txt", "storm-002-data", "secret.txt")
			require.Positive(t, got.ExchangeMillis)
			if !tc.exchangeOK {
				require.False(t, got.Exchange.OK)
				require.NotEmpty(t, got.Exchange.ErrorMessage)
				require.Zero(t, got.Own, "a failed exchange reads nothing")
				require.Zero(t, got.Other)
				return
			}
			require.True(t, got.Exchange.OK, "%+v", got.Exchange)
			require.Equal(t, probe.Result{OK: true, Output: "text of 001"}, got.Own)
			require.False(t, got.Other.OK)
			require.Equal(t, "HTTP403", got.Other.ErrorCode, got.Other.ErrorMessage)
			require.Positive(t, got.OwnMillis)
			require.Positive(t, got.OtherMillis)

			reads, exchanges := map[string]string{}, 0
			for _, d := range g.IAM.Handler().Decisions() {
				switch d.Action {
				case "storage.objects.get":
					require.Equal(t, "serviceAccount:"+gsa, d.Principal, "the pod's own service account read")
					reads[d.Resource] = d.Effect
				case "iam.serviceAccounts.getAccessToken":
					exchanges++
				}
			}
			require.Equal(t, tc.wantDecision, reads)
			require.Equal(t, 1, exchanges, "the reads used the exchange's token")
		})
	}
}

// Two storm pods' Azure identities: apps storm-001 and storm-002, each
// federated with its KSA and reading its own container of idlabstorm.
const stormAzureFixture = `tenants:
  - id: ` + stormTenant + `
    apps:
      - clientId: ` + stormApp1 + `
        name: storm-001
        federatedCredentials:
          - {name: f1, issuer: "` + idlabtest.DefaultAKSIssuer + `", subject: "system:serviceaccount:idlab-storm:storm-001"}
      - clientId: ` + stormApp2 + `
        name: storm-002
        federatedCredentials:
          - {name: f2, issuer: "` + idlabtest.DefaultAKSIssuer + `", subject: "system:serviceaccount:idlab-storm:storm-002"}
    storageAccounts:
      - name: idlabstorm
        containers:
          - {name: storm-001, blobs: {secret.txt: "text of 001"}}
          - {name: storm-002, blobs: {secret.txt: "text of 002"}}
        roleAssignments:
          - {assignee: ` + stormApp1 + `, role: Storage Blob Data Reader, container: storm-001}
          - {assignee: ` + stormApp2 + `, role: Storage Blob Data Reader, container: storm-002}
`

const (
	stormTenant = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	stormApp1   = "5707e000-0000-4000-8000-000000000001"
	stormApp2   = "5707e000-0000-4000-8000-000000000002"
)

// TestStormBlob: the storm-blob mode asks Entra once for the whole run
// (the reads find the exchange's token in azidentity's cache), reads the
// pod's own container and reports the other's refusal as
// AuthorizationPermissionMismatch with the request ID of the blob
// service's decision, which names the pod's own app; a refused exchange
// (another KSA's token) reads nothing.
func TestStormBlob(t *testing.T) {
	tests := []struct {
		name, ksa    string
		wantExchange string // AADSTS code of a refused exchange
	}{
		{name: "federated KSA", ksa: "storm-001"},
		{name: "another KSA's token", ksa: "storm-002", wantExchange: "AADSTS700213"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := idlabtest.NewAzure(t, idlabtest.AzureOptions{Fixtures: []string{writeFixture(t, stormAzureFixture)}})
			file, err := a.TokenFile("idlab-storm", tc.ksa)
			require.NoError(t, err)
			cred, err := a.Credential(stormTenant, stormApp1, file)
			require.NoError(t, err)
			c, err := a.BlobClient("idlabstorm", cred)
			require.NoError(t, err)
			got := stormBlob(context.Background(), cred, c, "storm-001", "secret.txt", "storm-002", "secret.txt")
			require.Positive(t, got.ExchangeMillis)
			require.Len(t, a.Entra.Handler().Decisions(), 1, "one token request for the whole run")
			if tc.wantExchange != "" {
				require.False(t, got.Exchange.OK)
				require.Equal(t, tc.wantExchange, got.Exchange.ErrorCode, got.Exchange.ErrorMessage)
				require.Zero(t, got.Own, "a failed exchange reads nothing")
				require.Zero(t, got.Other)
				require.Empty(t, a.Blob.Handler().Decisions())
				return
			}
			require.True(t, got.Exchange.OK, "%+v", got.Exchange)
			require.Contains(t, got.Exchange.Output, "appid="+stormApp1)
			require.True(t, got.Own.OK, "%+v", got.Own)
			require.Equal(t, "text of 001", got.Own.Output)
			require.False(t, got.Other.OK)
			require.Equal(t, "AuthorizationPermissionMismatch", got.Other.ErrorCode, got.Other.ErrorMessage)
			require.Positive(t, got.OwnMillis)
			require.Positive(t, got.OtherMillis)

			byID := map[string]string{}
			for _, d := range a.Blob.Handler().Decisions() {
				require.Equal(t, stormApp1, d.Detail["appId"], "the pod's own app read")
				byID[d.RequestID] = d.Effect
			}
			require.Equal(t, map[string]string{got.Own.RequestID: "Allow", got.Other.RequestID: "Deny"}, byID,
				"each read's request ID names its decision")
		})
	}
}

func TestStormCloudsUsage(t *testing.T) {
	ctx := context.Background()
	require.Equal(t, "UsageError", runStormGCS(ctx, []string{"storm-gcs", "b", "o", "b2"}).Exchange.ErrorCode)
	require.Equal(t, "UsageError", runStormBlob(ctx, []string{"storm-blob", "acct", "c", "b", "c2"}).Exchange.ErrorCode)
	// No webhook variables: the credential cannot be built.
	for _, v := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE"} {
		t.Setenv(v, "")
	}
	got := runStormBlob(ctx, []string{"storm-blob", "acct", "c", "b", "c2", "b2"})
	require.Equal(t, "ConfigError", got.Exchange.ErrorCode)
	require.Zero(t, got.Own)
	require.Contains(t, storms, "storm-gcs")
	require.Contains(t, storms, "storm-blob")
}
