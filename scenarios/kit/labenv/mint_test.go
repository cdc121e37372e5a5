package labenv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/idlabtest"
)

const defaultIssuer = "https://kubernetes.default.svc.cluster.local"

// claimsOf reads a JWT's iss, sub and aud without verifying it.
func claimsOf(t *testing.T, tok string) (c struct {
	Iss, Sub string
	Aud      []string
}) {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &c))
	return c
}

func keysOf(t *testing.T, admin AdminFunc, issuer string) []string {
	t.Helper()
	var issuers []struct {
		URL  string   `json:"url"`
		Keys []string `json:"keys"`
	}
	require.NoError(t, admin(context.Background(), http.MethodGet, "/_idlab/oidc/issuers", nil, &issuers))
	for _, i := range issuers {
		if i.URL == issuer {
			return i.Keys
		}
	}
	return nil
}

func TestMintToken(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, admin AdminFunc)
	}{
		{name: "issuer not hosted"},
		{name: "issuer hosted without a key", setup: func(t *testing.T, admin AdminFunc) {
			require.NoError(t, admin(ctx, http.MethodPost, "/_idlab/oidc/issuers", map[string]string{"url": defaultIssuer}, nil))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := idlabtest.NewCloud(t, idlabtest.CloudOptions{})
			admin := c.AdminJSON
			if tc.setup != nil {
				tc.setup(t, admin)
			}
			tok, err := MintToken(ctx, admin, defaultIssuer, "ns", "sa", "sts.amazonaws.com")
			require.NoError(t, err)
			claims := claimsOf(t, tok)
			require.Equal(t, defaultIssuer, claims.Iss)
			require.Equal(t, "system:serviceaccount:ns:sa", claims.Sub)
			require.Equal(t, []string{"sts.amazonaws.com"}, claims.Aud)
			require.Len(t, keysOf(t, admin, defaultIssuer), 1)
			// Again: the issuer and its key are reused.
			_, err = MintToken(ctx, admin, defaultIssuer, "ns", "sa", "api://AzureADTokenExchange")
			require.NoError(t, err)
			require.Len(t, keysOf(t, admin, defaultIssuer), 1)
		})
	}
}

// TestMintTokenAtTheSameTime: suites minting at once all get tokens.
func TestMintTokenAtTheSameTime(t *testing.T) {
	c := idlabtest.NewCloud(t, idlabtest.CloudOptions{})
	admin := c.AdminJSON
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = MintToken(context.Background(), admin, defaultIssuer, "ns", "sa", "aud")
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.NotEmpty(t, keysOf(t, admin, defaultIssuer))
}

func TestMintTokenAdminDown(t *testing.T) {
	down := func(context.Context, string, string, any, any) error { return errors.New("connection refused") }
	_, err := MintToken(context.Background(), down, defaultIssuer, "ns", "sa", "aud")
	require.ErrorContains(t, err, "list issuers: connection refused")
	require.True(t, strings.HasPrefix(err.Error(), "list issuers"))
}
