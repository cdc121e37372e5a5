package oidc_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/golden"
)

const gkeIssuer = "https://container.googleapis.com/v1/projects/proj/locations/us-central1/clusters/lab"

// testSigners are generated once per test run: keys are never committed.
var testSigners = sync.OnceValues(func() (map[string]crypto.Signer, error) {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return map[string]crypto.Signer{"rsa": r, "ec": e}, nil
})

func loadSigner(t *testing.T, name string) crypto.Signer {
	t.Helper()
	m, err := testSigners()
	require.NoError(t, err)
	s, ok := m[name]
	require.True(t, ok, "no test key %q", name)
	return s
}

// TestKeyIDPinnedToKubeAPIServerDerivation checks KeyID against openssl,
// computed outside Go the way kube-apiserver derives kid (keyIDFromPublicKey
// in pkg/serviceaccount/jwt.go: unpadded base64url of SHA-256 over PKIX DER):
//
//	openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d =
func TestKeyIDPinnedToKubeAPIServerDerivation(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed (hack/setup-test-tools.sh openssl)")
	}
	for _, name := range []string{"rsa", "ec"} {
		pub := loadSigner(t, name).Public()
		der, err := x509.MarshalPKIXPublicKey(pub)
		require.NoError(t, err)
		cmd := exec.Command("sh", "-c", "openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\\n'")
		cmd.Stdin = strings.NewReader(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
		out, err := cmd.Output()
		require.NoError(t, err)
		kid, err := oidc.KeyID(pub)
		require.NoError(t, err)
		require.Equal(t, strings.TrimSpace(string(out)), kid, name)
		require.Len(t, kid, 43)
	}
}

// normalize replaces the run-time key material in a response with stable
// placeholders, so golden files pin the shape and never hold keys.
func normalize(t *testing.T, body string) string {
	t.Helper()
	for _, name := range []string{"rsa", "ec"} {
		pub := loadSigner(t, name).Public()
		kid, err := oidc.KeyID(pub)
		require.NoError(t, err)
		body = strings.ReplaceAll(body, kid, "<kid:"+name+">")
		switch k := pub.(type) {
		case *rsa.PublicKey:
			body = strings.ReplaceAll(body, base64.RawURLEncoding.EncodeToString(k.N.Bytes()), "<n:"+name+">")
		case *ecdsa.PublicKey:
			var x, y [32]byte
			k.X.FillBytes(x[:])
			k.Y.FillBytes(y[:])
			body = strings.ReplaceAll(body, base64.RawURLEncoding.EncodeToString(x[:]), "<x:"+name+">")
			body = strings.ReplaceAll(body, base64.RawURLEncoding.EncodeToString(y[:]), "<y:"+name+">")
		}
	}
	return body
}

// fixedHandler hosts an EKS-style issuer (RSA + EC keys, JWKS at /keys), a
// GKE-style issuer (RSA key, JWKS at /jwks) and a keyless issuer.
func fixedHandler(t *testing.T) *oidc.Handler {
	t.Helper()
	h, err := oidc.New(oidc.Options{})
	require.NoError(t, err)
	eks, err := h.AddIssuer(eksIssuer)
	require.NoError(t, err)
	_, err = eks.AddSigner(loadSigner(t, "rsa"))
	require.NoError(t, err)
	_, err = eks.AddPublicKey(loadSigner(t, "ec").Public())
	require.NoError(t, err)
	gke, err := h.AddIssuer(gkeIssuer, oidc.WithJWKSPath("/jwks"))
	require.NoError(t, err)
	_, err = gke.AddSigner(loadSigner(t, "rsa"))
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
			got := normalize(t, render(rec))
			golden.File(t, filepath.Join("testdata", "golden", tc.golden+".txt"), []byte(got))
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
