package oidc_test

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const gkeIssuer = "https://container.googleapis.com/v1/projects/proj/locations/us-central1/clusters/lab"

// Kids of testdata/rsa.pem and testdata/ec.pem computed outside Go:
//
//	openssl pkey -in testdata/rsa.pem -pubout -outform DER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d =
//
// which is how kube-apiserver derives kid (keyIDFromPublicKey in
// pkg/serviceaccount/jwt.go: unpadded base64url of SHA-256 over PKIX DER).
const (
	fixedRSAKid = "KFntTBrTAeuAUwLkj0g4HultF_bKisXT4UaZrg1rloI"
	fixedECKid  = "m_poP5xP0LzNZ2vtXJPjbLkGWUoVItn6as1eqjUk-bw"
)

func loadSigner(t *testing.T, name string) crypto.Signer {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	blk, _ := pem.Decode(b)
	require.NotNil(t, blk)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	require.NoError(t, err)
	return k.(crypto.Signer)
}

func TestKeyIDPinnedToKubeAPIServerDerivation(t *testing.T) {
	for name, want := range map[string]string{"rsa.pem": fixedRSAKid, "ec.pem": fixedECKid} {
		s := loadSigner(t, name)
		kid, err := oidc.KeyID(s.Public())
		require.NoError(t, err)
		require.Equal(t, want, kid, name)
	}
}

// fixedHandler hosts an EKS-style issuer (RSA + EC keys, JWKS at /keys), a
// GKE-style issuer (RSA key, JWKS at /jwks) and a keyless issuer.
func fixedHandler(t *testing.T) *oidc.Handler {
	t.Helper()
	h, err := oidc.New(oidc.Options{})
	require.NoError(t, err)
	eks, err := h.AddIssuer(eksIssuer)
	require.NoError(t, err)
	k, err := eks.AddSigner(loadSigner(t, "rsa.pem"))
	require.NoError(t, err)
	require.Equal(t, fixedRSAKid, k.ID)
	_, err = eks.AddPublicKey(loadSigner(t, "ec.pem").Public())
	require.NoError(t, err)
	gke, err := h.AddIssuer(gkeIssuer, oidc.WithJWKSPath("/jwks"))
	require.NoError(t, err)
	_, err = gke.AddSigner(loadSigner(t, "rsa.pem"))
	require.NoError(t, err)
	_, err = h.AddIssuer("https://kubernetes.default.svc", oidc.WithJWKSPath("/openid/v1/jwks"))
	require.NoError(t, err)
	return h
}

func TestDiscoveryAndJWKSGolden(t *testing.T) {
	h := fixedHandler(t)
	tests := []struct {
		golden, method, url, host string
	}{
		{"eks-discovery", "GET", "/id/EXAMPLED539D4633E53DE1B71EXAMPLE/.well-known/openid-configuration", "oidc.eks.us-west-2.amazonaws.com"},
		{"eks-jwks", "GET", "/id/EXAMPLED539D4633E53DE1B71EXAMPLE/keys", "oidc.eks.us-west-2.amazonaws.com"},
		{"eks-jwks", "GET", "/id/EXAMPLED539D4633E53DE1B71EXAMPLE/keys", "127.0.0.1:8443"},
		{"eks-jwks", "GET", "/id/EXAMPLED539D4633E53DE1B71EXAMPLE/keys", "OIDC.EKS.US-WEST-2.AMAZONAWS.COM:443"},
		{"gke-discovery", "GET", "/v1/projects/proj/locations/us-central1/clusters/lab/.well-known/openid-configuration", "container.googleapis.com"},
		{"gke-jwks", "GET", "/v1/projects/proj/locations/us-central1/clusters/lab/jwks", "container.googleapis.com"},
		{"kube-discovery", "GET", "/.well-known/openid-configuration", "kubernetes.default.svc"},
		{"kube-jwks", "GET", "/openid/v1/jwks", "kubernetes.default.svc"},
		{"not-found", "GET", "/id/EXAMPLED539D4633E53DE1B71EXAMPLE/jwks", "oidc.eks.us-west-2.amazonaws.com"},
		{"not-found", "GET", "/id/EXAMPLED539D4633E53DE1B71EXAMPLE/keys", "oidc.eks.eu-west-1.amazonaws.com"},
		{"not-found", "GET", "/id/OTHER/keys", "127.0.0.1"},
		{"method-not-allowed", "POST", "/id/EXAMPLED539D4633E53DE1B71EXAMPLE/keys", "oidc.eks.us-west-2.amazonaws.com"},
	}
	for _, tc := range tests {
		t.Run(tc.golden+" "+tc.host, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "https://"+tc.host+tc.url, nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := render(rec)
			path := filepath.Join("testdata", "golden", tc.golden+".txt")
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./emulators/oidc -update")
			require.Equal(t, string(want), got)
		})
	}
}

// render is the status line, the headers a client sees, and the body.
func render(rec *httptest.ResponseRecorder) string {
	var b strings.Builder
	b.WriteString("HTTP " + http.StatusText(rec.Code) + "\n")
	for _, k := range []string{"Allow", "Cache-Control", "Content-Type"} {
		if v := rec.Header().Get(k); v != "" {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	b.WriteString("\n" + rec.Body.String())
	return b.String()
}
