package idlabtest

import (
	"context"
	"fmt"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google/externalaccount"
	"google.golang.org/api/option"

	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/emulators/gcs"
	"github.com/idlab/idlab/emulators/oidc"
)

// DefaultGKEIssuer is the issuer StartGoogle hosts when
// GoogleOptions.IssuerURL is empty: the lab's gke cluster, as
// fixtures/gcp/lab.yaml's workload identity pool names it.
const DefaultGKEIssuer = "https://container.googleapis.com/v1/projects/idlab/locations/us-central1/clusters/gke"

// GoogleOptions say what StartGoogle serves.
type GoogleOptions struct {
	// IssuerURL is the GKE cluster's service-account issuer. Defaults to
	// DefaultGKEIssuer.
	IssuerURL string
	// Fixtures are Google fixture files or directories (YAML: projects,
	// service accounts, workload identity pools, bindings and buckets; see
	// packages gcpiam and gcs), loaded in order.
	Fixtures []string
}

// Google is a GKE cluster's OIDC issuer with Google's identity plane
// (STS, IAM Credentials) and Cloud Storage, wired as GKE Workload Identity
// wires them: STS trusts the issuer's tokens through the fixtures'
// workload identity pool. Every server has its own CA; each server's
// Client trusts it.
type Google struct {
	// Issuers serves the issuer's discovery document and JWKS.
	Issuers *oidc.Server
	// Issuer holds the signing key: it mints service-account tokens.
	Issuer *oidc.Issuer
	// IAM is sts.googleapis.com, iamcredentials.googleapis.com and the
	// other Google identity hosts; IAM.Handler().Decisions() is its log.
	IAM *gcpiam.Server
	// Storage is Cloud Storage, in front of IAM.
	Storage *gcs.Server
}

// StartGoogle starts the issuer, Google IAM and Cloud Storage with
// opts.Fixtures loaded into both. Close stops them.
func StartGoogle(opts GoogleOptions) (_ *Google, err error) {
	if opts.IssuerURL == "" {
		opts.IssuerURL = DefaultGKEIssuer
	}
	g := &Google{}
	defer func() {
		if err != nil {
			g.Close()
		}
	}()
	if g.Issuers, err = oidc.NewServer(oidc.Options{}); err != nil {
		return nil, fmt.Errorf("idlabtest: issuer: %w", err)
	}
	if g.Issuer, err = signingIssuer(g.Issuers.Handler(), opts.IssuerURL); err != nil {
		return nil, err
	}
	if g.IAM, err = gcpiam.NewServer(gcpiam.Options{HTTPClient: g.Issuers.Client()}); err != nil {
		return nil, fmt.Errorf("idlabtest: google iam: %w", err)
	}
	if g.Storage, err = gcs.NewServer(gcs.Options{IAM: g.IAM.Handler()}); err != nil {
		return nil, fmt.Errorf("idlabtest: gcs: %w", err)
	}
	for _, f := range opts.Fixtures {
		if err := g.IAM.Handler().LoadFixtures(f); err != nil {
			return nil, fmt.Errorf("idlabtest: google fixtures: %w", err)
		}
		if err := g.Storage.Handler().LoadFixtures(context.Background(), f); err != nil {
			return nil, fmt.Errorf("idlabtest: gcs fixtures: %w", err)
		}
	}
	return g, nil
}

// NewGoogle is StartGoogle for a test: it fails t on error and closes at
// the test's end.
func NewGoogle(t testing.TB, opts GoogleOptions) *Google {
	t.Helper()
	g, err := StartGoogle(opts)
	return started(t, g, err)
}

// TokenSource is the credentials of a GKE pod running as
// namespace/serviceAccount, got the way the Google libraries get them
// with Workload Identity Federation (golang.org/x/oauth2's external
// account flow): a token of the issuer with the pool's audience
// (PROJECT.svc.id.goog) is exchanged at sts.googleapis.com for a federated
// token of serviceAccount:POOL[NAMESPACE/KSA] and, when impersonate is a
// service account's email, that token buys the account's access token at
// iamcredentials.googleapis.com (refused without roles/iam.workloadIdentityUser).
// pool is the workload identity pool ID, e.g. "idlab.svc.id.goog".
func (g *Google) TokenSource(ctx context.Context, pool, namespace, serviceAccount, impersonate string) (oauth2.TokenSource, error) {
	cfg := externalaccount.Config{
		Audience:         "identitynamespace:" + pool + ":" + g.Issuer.URL(),
		SubjectTokenType: gcpiam.TokenTypeJWT,
		TokenURL:         "https://sts.googleapis.com/v1/token",
		Scopes:           []string{gcpiam.ScopeCloudPlatform},
		SubjectTokenSupplier: ksaSupplier{iss: g.Issuer, req: oidc.TokenRequest{Namespace: namespace,
			ServiceAccount: serviceAccount, Audiences: []string{pool}}},
	}
	if impersonate != "" {
		cfg.ServiceAccountImpersonationURL = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/" + impersonate + ":generateAccessToken"
	}
	ts, err := externalaccount.NewTokenSource(context.WithValue(ctx, oauth2.HTTPClient, g.IAM.Client()), cfg)
	if err != nil {
		return nil, fmt.Errorf("idlabtest: google token source: %w", err)
	}
	return ts, nil
}

// StorageClient is an unmodified cloud.google.com/go/storage client of
// Storage whose credentials are TokenSource's. The caller closes it.
func (g *Google) StorageClient(ctx context.Context, pool, namespace, serviceAccount, impersonate string) (*storage.Client, error) {
	ts, err := g.TokenSource(ctx, pool, namespace, serviceAccount, impersonate)
	if err != nil {
		return nil, err
	}
	hc := oauth2.NewClient(context.WithValue(ctx, oauth2.HTTPClient, g.Storage.Client()), ts)
	c, err := storage.NewClient(ctx, option.WithEndpoint(g.Storage.URL()+"/storage/v1/"), option.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("idlabtest: storage client: %w", err)
	}
	return c, nil
}

// NewStorageClient is StorageClient for a test: it fails t on error and
// closes the client at the test's end.
func (g *Google) NewStorageClient(t testing.TB, pool, namespace, serviceAccount, impersonate string) *storage.Client {
	t.Helper()
	c, err := g.StorageClient(context.Background(), pool, namespace, serviceAccount, impersonate)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Close stops the servers.
func (g *Google) Close() {
	if g.Storage != nil {
		g.Storage.Close()
	}
	if g.IAM != nil {
		g.IAM.Close()
	}
	if g.Issuers != nil {
		g.Issuers.Close()
	}
}

// ksaSupplier mints a fresh projected service-account token at every call,
// as kubelet refreshes the token file of a pod.
type ksaSupplier struct {
	iss *oidc.Issuer
	req oidc.TokenRequest
}

func (s ksaSupplier) SubjectToken(context.Context, externalaccount.SupplierOptions) (string, error) {
	tok, err := s.iss.MintServiceAccountToken(s.req)
	if err != nil {
		return "", fmt.Errorf("idlabtest: mint token: %w", err)
	}
	return tok, nil
}
