package issuertrust

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// apiServer answers the two issuer paths as kube-apiserver does, and
// records the Authorization header each request carried.
func apiServer(t *testing.T, discovery, keys string, status int) (*rest.Config, *[]string) {
	t.Helper()
	var auth []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		switch r.URL.Path {
		case DiscoveryPath:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(discovery))
		case JWKSPath:
			w.Header().Set("Content-Type", "application/jwk-set+json")
			_, _ = w.Write([]byte(keys))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL, BearerToken: "admin-token", TLSClientConfig: rest.TLSClientConfig{Insecure: true}}, &auth
}

func TestRead(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Use: "sig", Algorithm: "RS256"}}})
	require.NoError(t, err)
	kindDoc := `{"issuer":"https://kubernetes.default.svc.cluster.local","jwks_uri":"https://172.18.0.2:6443/openid/v1/jwks","response_types_supported":["id_token"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["RS256"]}`
	tests := []struct {
		name      string
		discovery string
		keys      string
		status    int
		want      Trust
		errMatch  string
	}{
		{name: "kind's issuer", discovery: kindDoc, keys: string(set), status: http.StatusOK,
			want: Trust{Issuer: "https://kubernetes.default.svc.cluster.local", JWKSURI: "https://172.18.0.2:6443/openid/v1/jwks", JWKS: set, KeyIDs: []string{"k1"}}},
		{name: "discovery forbidden", discovery: `{"kind":"Status","code":403}`, keys: string(set), status: http.StatusForbidden, errMatch: "read the cluster's " + DiscoveryPath},
		{name: "discovery not https", discovery: `{"issuer":"http://x","jwks_uri":"https://x/k"}`, keys: string(set), status: http.StatusOK, errMatch: "not an https URL"},
		{name: "private key in the set", discovery: kindDoc, status: http.StatusOK,
			keys: func() string {
				b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k1"}}})
				require.NoError(t, err)
				return string(b)
			}(), errMatch: "private"},
		{name: "empty set", discovery: kindDoc, keys: `{"keys":[]}`, status: http.StatusOK, errMatch: JWKSPath},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, auth := apiServer(t, tc.discovery, tc.keys, tc.status)
			cs, err := kubernetes.NewForConfig(cfg)
			require.NoError(t, err)
			got, err := Read(context.Background(), cs.Discovery().RESTClient())
			if tc.errMatch != "" {
				require.ErrorContains(t, err, tc.errMatch)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			for _, a := range *auth {
				require.Equal(t, "Bearer admin-token", a, "read with the kubeconfig's credentials")
			}
		})
	}
}
