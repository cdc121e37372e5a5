// Package issuertrust reads an existing cluster's service-account issuer
// as a cloud does before trusting it: its OIDC discovery document and its
// key set, through the cluster's API server with the kubeconfig's
// credentials (kube-apiserver serves both at /.well-known/openid-configuration
// and /openid/v1/jwks; the ServiceAccountIssuerDiscovery feature, GA in
// Kubernetes 1.21). The lab then registers that issuer with the emulator
// with exactly those keys, instead of setting the cluster's keys itself.
package issuertrust

import (
	"context"
	"fmt"

	"k8s.io/client-go/rest"

	"github.com/idlab/idlab/internal/jwks"
)

// The paths kube-apiserver serves the issuer's documents at: the Kubernetes
// API's getServiceAccountIssuerOpenIDConfiguration and
// getServiceAccountIssuerOpenIDKeyset operations (its OpenAPI document).
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/openid/v1/jwks"
)

// Trust is what the lab trusts of a cluster's issuer.
type Trust struct {
	// Issuer is the iss of the cluster's service-account tokens.
	Issuer string
	// JWKSURI is where the discovery document says the keys are (often
	// an address only the cluster's network reaches; the lab reads them
	// through the API server instead).
	JWKSURI string
	// JWKS is the key set as the API server served it, for the emulator's
	// issuers file.
	JWKS []byte
	// KeyIDs are the kids of the keys the lab trusts, in the set's order.
	KeyIDs []string
	// Skipped counts keys of a type the lab does not know.
	Skipped int
}

// Read fetches and checks the cluster's discovery document and key set
// through rc (a client of the API server, such as
// clientset.Discovery().RESTClient()).
func Read(ctx context.Context, rc rest.Interface) (Trust, error) {
	raw, err := get(ctx, rc, DiscoveryPath)
	if err != nil {
		return Trust{}, err
	}
	d, err := jwks.ParseDiscovery(raw)
	if err != nil {
		return Trust{}, fmt.Errorf("%s: %w", DiscoveryPath, err)
	}
	raw, err = get(ctx, rc, JWKSPath)
	if err != nil {
		return Trust{}, err
	}
	set, err := jwks.Parse(raw)
	if err != nil {
		return Trust{}, fmt.Errorf("%s: %w", JWKSPath, err)
	}
	t := Trust{Issuer: d.Issuer, JWKSURI: d.JWKSURI, JWKS: raw, Skipped: set.Skipped}
	for _, k := range set.Keys {
		t.KeyIDs = append(t.KeyIDs, k.KeyID)
	}
	return t, nil
}

// get reads path from the API server, bounded by jwks.MaxSize.
func get(ctx context.Context, rc rest.Interface, path string) ([]byte, error) {
	raw, err := rc.Get().AbsPath(path).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the cluster's %s through its API server: %w", path, err)
	}
	if len(raw) > jwks.MaxSize {
		return nil, fmt.Errorf("the cluster's %s: %d bytes, more than %d", path, len(raw), jwks.MaxSize)
	}
	return raw, nil
}
