package labenv

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// AdminFunc sends method to an admin path of the emulator with body as
// JSON and decodes a 2xx answer into out: harness.State.Admin.
type AdminFunc func(ctx context.Context, method, path string, body, out any) error

// MintToken is a service-account token for namespace/serviceAccount and
// audiences, with the claims kube-apiserver gives one, signed by issuer: an
// issuer the lab's emulator hosts for a scenario, not one of the clusters'
// (their keys are the kube-apiserver's). A row needs it for a token no
// cluster of the lab signs, such as a cluster's left at the default issuer.
// The issuer and a signing key are added when the lab has none, so suites
// running at the same time may share the issuer.
func (l *Lab) MintToken(ctx context.Context, t *testing.T, issuer, namespace, serviceAccount string, audiences ...string) string {
	t.Helper()
	tok, err := MintToken(ctx, l.Admin, issuer, namespace, serviceAccount, audiences...)
	require.NoError(t, err)
	return tok
}

// MintToken is Lab.MintToken through admin.
func MintToken(ctx context.Context, admin AdminFunc, issuer, namespace, serviceAccount string, audiences ...string) (string, error) {
	signing, err := signingKey(ctx, admin, issuer)
	if err != nil {
		return "", err
	}
	if signing == "" {
		// Another suite may add the issuer at the same time: a refused
		// POST is fine once the issuer is there.
		if err := admin(ctx, http.MethodPost, "/_idlab/oidc/issuers", map[string]string{"url": issuer}, nil); err != nil {
			var found bool
			if found, _ = hosted(ctx, admin, issuer); !found {
				return "", fmt.Errorf("add issuer %s: %w", issuer, err)
			}
		}
		if err := admin(ctx, http.MethodPost, "/_idlab/oidc/issuers/keys?"+url.Values{"issuer": {issuer}, "signing": {"true"}}.Encode(), nil, nil); err != nil {
			return "", fmt.Errorf("add a signing key to %s: %w", issuer, err)
		}
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := admin(ctx, http.MethodPost, "/_idlab/oidc/token", map[string]any{"issuer": issuer, "namespace": namespace,
		"serviceAccount": serviceAccount, "audiences": audiences}, &out); err != nil {
		return "", fmt.Errorf("mint a token of %s for %s/%s: %w", issuer, namespace, serviceAccount, err)
	}
	return out.Token, nil
}

// signingKey is the signing key's ID of issuer, "" when the lab does not
// host it or it has none.
func signingKey(ctx context.Context, admin AdminFunc, issuer string) (string, error) {
	var issuers []struct {
		URL        string `json:"url"`
		SigningKey string `json:"signingKey"`
	}
	if err := admin(ctx, http.MethodGet, "/_idlab/oidc/issuers", nil, &issuers); err != nil {
		return "", fmt.Errorf("list issuers: %w", err)
	}
	for _, i := range issuers {
		if i.URL == issuer {
			return i.SigningKey, nil
		}
	}
	return "", nil
}

// hosted reports whether the lab hosts issuer.
func hosted(ctx context.Context, admin AdminFunc, issuer string) (bool, error) {
	var issuers []struct {
		URL string `json:"url"`
	}
	if err := admin(ctx, http.MethodGet, "/_idlab/oidc/issuers", nil, &issuers); err != nil {
		return false, err
	}
	for _, i := range issuers {
		if i.URL == issuer {
			return true, nil
		}
	}
	return false, nil
}
