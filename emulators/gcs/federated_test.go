package gcs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/emulators/gcs"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/certs"
)

// TestFederatedPrincipal: a GKE workload's federated token (no service
// account) reads a bucket bound to its principal:// identity directly, as
// Workload Identity Federation for GKE allows, and nothing else.
func TestFederatedPrincipal(t *testing.T) {
	const issuer = "https://container.googleapis.com/v1/projects/idlab/locations/us-central1/clusters/gke"
	ca, err := certs.NewCA("federated")
	require.NoError(t, err)
	issuers, err := oidc.NewServer(oidc.Options{CA: ca})
	require.NoError(t, err)
	t.Cleanup(issuers.Close)
	gke, err := issuers.Handler().AddIssuer(issuer)
	require.NoError(t, err)
	_, err = gke.AddKey("RS256")
	require.NoError(t, err)
	iam, err := gcpiam.New(gcpiam.Options{HTTPClient: issuers.Client()})
	require.NoError(t, err)
	require.NoError(t, iam.AddWorkloadIdentityPool(gcpiam.Pool{Project: "idlab", ProjectNumber: "123456789012", ID: "idlab.svc.id.goog", Issuer: issuer}))
	require.NoError(t, iam.AddBinding("projects/_/buckets/team-a-data", "roles/storage.objectViewer",
		"principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/idlab.svc.id.goog/subject/ns/team-a/sa/app"))
	h, err := gcs.New(gcs.Options{IAM: iam})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, h.PutObject(ctx, "team-a-data", "a.txt", []byte("a"), "text/plain"))
	require.NoError(t, h.PutObject(ctx, "team-b-data", "b.txt", []byte("b"), "text/plain"))

	for _, tc := range []struct {
		ns, path string
		code     int
	}{
		{"team-a", "/team-a-data/a.txt", 200},
		{"team-a", "/team-b-data/b.txt", 403},
		{"team-b", "/team-a-data/a.txt", 403},
	} {
		ksa, err := gke.MintServiceAccountToken(oidc.TokenRequest{Namespace: tc.ns, ServiceAccount: "app", Audiences: []string{"idlab.svc.id.goog"}})
		require.NoError(t, err)
		res, err := iam.Exchange(ctx, "identitynamespace:idlab.svc.id.goog:"+issuer, ksa, nil)
		require.NoError(t, err)
		req := httptest.NewRequest(http.MethodGet, "https://storage.googleapis.com"+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+res.AccessToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, tc.code, rec.Code, rec.Body.String())
		if tc.code == 403 {
			require.Contains(t, rec.Body.String(), "serviceAccount:idlab.svc.id.goog["+tc.ns+"/app] does not have storage.objects.get access")
		}
	}
}
