package oidc_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/jwtverify"
)

const eksIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"

func newServer(t *testing.T) *oidc.Server {
	t.Helper()
	ca, err := certs.NewCA("test")
	require.NoError(t, err)
	srv, err := oidc.NewServer(oidc.Options{CA: ca})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	return srv
}

func getJSON(t *testing.T, c *http.Client, url string) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(b, &m), string(b))
	}
	return resp.StatusCode, resp.Header, m
}

func TestKeyIDMatchesKubeAPIServer(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	require.NoError(t, err)
	sum := sha256.Sum256(der)
	kid, err := oidc.KeyID(k.Public())
	require.NoError(t, err)
	require.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), kid)
	require.Len(t, kid, 43)
}

func TestDiscoveryAndJWKSByHostAndByPath(t *testing.T) {
	srv := newServer(t)
	iss, err := srv.Handler().AddIssuer(eksIssuer)
	require.NoError(t, err)
	k, err := iss.AddKey("RS256")
	require.NoError(t, err)
	gke, err := srv.Handler().AddIssuer("https://container.googleapis.com/v1/projects/p/locations/l/clusters/c", oidc.WithJWKSPath("/jwks"))
	require.NoError(t, err)
	_, err = gke.AddKey("ES256")
	require.NoError(t, err)

	c := srv.Client()
	status, hdr, doc := getJSON(t, c, eksIssuer+"/.well-known/openid-configuration")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "application/json", hdr.Get("Content-Type"))
	require.Equal(t, "public, max-age=3600", hdr.Get("Cache-Control"))
	require.Equal(t, map[string]any{
		"issuer": eksIssuer, "jwks_uri": eksIssuer + "/keys",
		"response_types_supported": []any{"id_token"}, "subject_types_supported": []any{"public"},
		"id_token_signing_alg_values_supported": []any{"RS256"},
	}, doc)

	status, hdr, jwks := getJSON(t, c, eksIssuer+"/keys")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "application/jwk-set+json", hdr.Get("Content-Type"))
	keys := jwks["keys"].([]any)
	require.Len(t, keys, 1)
	require.Equal(t, k.ID, keys[0].(map[string]any)["kid"])
	require.Equal(t, "sig", keys[0].(map[string]any)["use"])

	// The GKE issuer is told apart by host; its JWKS lives at the custom path.
	status, _, doc = getJSON(t, c, gke.URL()+"/.well-known/openid-configuration")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, gke.URL()+"/jwks", doc["jwks_uri"])
	require.Equal(t, []any{"ES256"}, doc["id_token_signing_alg_values_supported"])

	// On the loopback address the issuer is chosen by path alone.
	status, _, doc = getJSON(t, c, srv.URL()+"/id/EXAMPLED539D4633E53DE1B71EXAMPLE/.well-known/openid-configuration")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, eksIssuer, doc["issuer"])

	for _, u := range []string{
		"https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE/keys", // other host
		eksIssuer + "X/keys", // other path
		eksIssuer + "/nothing",
	} {
		status, _, _ = getJSON(t, c, u)
		require.Equal(t, http.StatusNotFound, status, u)
	}
}

func TestMintedTokenHasKubeAPIServerClaimsAndVerifies(t *testing.T) {
	srv := newServer(t)
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	iss, err := srv.Handler().AddIssuer(eksIssuer)
	require.NoError(t, err)
	_, err = iss.AddKey("RS256")
	require.NoError(t, err)

	tok, err := iss.MintServiceAccountToken(oidc.TokenRequest{
		Namespace: "team-a", ServiceAccount: "app", ServiceAccountUID: "sa-uid",
		Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: 600, IssuedAt: now,
		Pod: &oidc.ObjectRef{Name: "p", UID: "pod-uid"}, Node: &oidc.ObjectRef{Name: "n", UID: "node-uid"},
	})
	require.NoError(t, err)
	v := jwtverify.Verifier{Keys: &jwtverify.DiscoveryKeys{Client: srv.Client()}, Now: func() time.Time { return now.Add(time.Minute) }}
	got, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, "system:serviceaccount:team-a:app", got.Claims.Subject)
	require.Equal(t, []string{"sts.amazonaws.com"}, got.Claims.Audience)
	require.Equal(t, now.Add(600*time.Second).Unix(), got.Claims.Expiry.Unix())
	require.Equal(t, now.Unix(), got.Claims.NotBefore.Unix())
	require.NotEmpty(t, got.Claims.String("jti"))
	require.Equal(t, "RS256", got.Header.Alg)
	k8s := got.Claims.Raw["kubernetes.io"].(map[string]any)
	require.Equal(t, "team-a", k8s["namespace"])
	require.Equal(t, map[string]any{"name": "app", "uid": "sa-uid"}, k8s["serviceaccount"])
	require.Equal(t, map[string]any{"name": "p", "uid": "pod-uid"}, k8s["pod"])
	require.Equal(t, map[string]any{"name": "n", "uid": "node-uid"}, k8s["node"])

	_, err = iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: "a", ServiceAccount: "b", Audiences: []string{"x"}, ExpirationSeconds: 599})
	require.ErrorIs(t, err, oidc.ErrInvalidTokenRequest)
	require.ErrorContains(t, err, "600")
	_, err = iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: "a"})
	require.ErrorIs(t, err, oidc.ErrInvalidTokenRequest)
}

func TestSigningKeyRotation(t *testing.T) {
	srv := newServer(t)
	iss, err := srv.Handler().AddIssuer(eksIssuer)
	require.NoError(t, err)
	oldKey, err := iss.AddKey("RS256")
	require.NoError(t, err)
	req := oidc.TokenRequest{Namespace: "a", ServiceAccount: "app", Audiences: []string{"sts.amazonaws.com"}}
	oldTok, err := iss.MintServiceAccountToken(req)
	require.NoError(t, err)
	newKey, err := iss.AddKey("RS256")
	require.NoError(t, err)
	require.NoError(t, iss.SetSigningKey(newKey.ID))
	newTok, err := iss.MintServiceAccountToken(req)
	require.NoError(t, err)

	verify := func(tok string) error {
		v := jwtverify.Verifier{Keys: &jwtverify.DiscoveryKeys{Client: srv.Client()}} // fresh cache each time
		_, err := v.Verify(context.Background(), tok)
		return err
	}
	require.NoError(t, verify(oldTok), "old tokens verify while both keys are published")
	require.NoError(t, verify(newTok))
	require.NoError(t, iss.RemoveKey(oldKey.ID))
	err = verify(oldTok)
	var e *jwtverify.Error
	require.True(t, errors.As(err, &e))
	require.Equal(t, jwtverify.CodeKeyNotFound, e.Code)
	require.NoError(t, verify(newTok))
}

func TestDiscoveryIssuerMismatchIsRejected(t *testing.T) {
	srv := newServer(t)
	iss, err := srv.Handler().AddIssuer(eksIssuer)
	require.NoError(t, err)
	_, err = iss.AddKey("RS256")
	require.NoError(t, err)
	// A token claiming the issuer with a trailing slash is a different issuer:
	// discovery at .../EXAMPLE/ names .../EXAMPLE, so keys must not be trusted.
	tok, err := iss.Sign(map[string]any{"iss": eksIssuer + "/", "sub": "x", "aud": "sts.amazonaws.com", "exp": time.Now().Add(time.Hour).Unix()})
	require.NoError(t, err)
	v := jwtverify.Verifier{Keys: &jwtverify.DiscoveryKeys{Client: srv.Client()}}
	_, err = v.Verify(context.Background(), tok)
	var e *jwtverify.Error
	require.True(t, errors.As(err, &e), "%v", err)
	require.Equal(t, jwtverify.CodeKeyFetch, e.Code)
	require.Contains(t, e.Error(), "names issuer")
}

// adminServer serves the handler's admin API on its own plain listener,
// as the lab's control plane does.
func adminServer(t *testing.T, srv *oidc.Server) *httptest.Server {
	t.Helper()
	admin := httptest.NewServer(srv.Handler().AdminHandler())
	t.Cleanup(admin.Close)
	return admin
}

func TestServerURLServesNoAdminAPI(t *testing.T) {
	srv := newServer(t)
	_, err := srv.Handler().AddIssuer(eksIssuer)
	require.NoError(t, err)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/_idlab/oidc/issuers", ""},
		{"POST", "/_idlab/oidc/issuers", `{"url":"https://oidc.example/planted"}`},
		{"POST", "/_idlab/oidc/issuers/keys?signing=true&issuer=" + eksIssuer, ""},
		{"POST", "/_idlab/oidc/token", `{"issuer":"` + eksIssuer + `","namespace":"a","serviceAccount":"b"}`},
	} {
		for _, base := range []string{srv.URL(), eksIssuer} {
			req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			want := http.StatusNotFound // no issuer path on loopback, no document under the issuer
			if base == eksIssuer && tc.method != http.MethodGet {
				want = http.StatusMethodNotAllowed // an issuer's documents are GET only
			}
			require.Equal(t, want, resp.StatusCode, "%s %s%s", tc.method, base, tc.path)
		}
	}
	require.Len(t, srv.Handler().Issuers(), 1, "no issuer was added")
	iss, _ := srv.Handler().Issuer(eksIssuer)
	require.Empty(t, iss.Keys(), "no key was added")
}

func TestAdminAPI(t *testing.T) {
	admin := adminServer(t, newServer(t))
	post := func(path, body string) (int, map[string]any) {
		resp, err := http.Post(admin.URL+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	status, _ := post("/_idlab/oidc/issuers", `{"url":"`+eksIssuer+`"}`)
	require.Equal(t, http.StatusCreated, status)
	status, m := post("/_idlab/oidc/issuers/keys?issuer="+eksIssuer, ``)
	require.Equal(t, http.StatusCreated, status)
	require.NotEmpty(t, m["kid"])
	status, m = post("/_idlab/oidc/token", `{"issuer":"`+eksIssuer+`","namespace":"a","serviceAccount":"b","audiences":["sts.amazonaws.com"]}`)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, strings.Split(m["token"].(string), "."), 3)
	status, m = post("/_idlab/oidc/issuers", `{"url":"http://insecure"}`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "InvalidIssuer", m["error"])
	status, _ = post("/_idlab/oidc/token", `{"issuer":"https://nope"}`)
	require.Equal(t, http.StatusNotFound, status)
	status, m = post("/_idlab/oidc/issuers", `{"url":"https://x","extra":1}`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "MalformedJSON", m["error"])
}

func TestRoutingByHostAndPath(t *testing.T) {
	srv := newServer(t)
	h := srv.Handler()
	west, err := h.AddIssuer("https://oidc.eks.us-west-2.amazonaws.com/id/AAAA")
	require.NoError(t, err)
	east, err := h.AddIssuer("https://oidc.eks.us-east-1.amazonaws.com/id/AAAA")
	require.NoError(t, err)
	west2, err := h.AddIssuer("https://oidc.eks.us-west-2.amazonaws.com/id/BBBB")
	require.NoError(t, err)
	again, err := h.AddIssuer("https://oidc.eks.us-west-2.amazonaws.com/id/AAAA")
	require.NoError(t, err)
	require.Same(t, west, again, "adding an issuer twice returns the hosted one")
	kw, err := west.AddKey("RS256")
	require.NoError(t, err)
	ke, err := east.AddKey("ES256")
	require.NoError(t, err)
	kw2, err := west2.AddKey("RS256")
	require.NoError(t, err)

	c := srv.Client()
	for _, tc := range []struct {
		url, kid string
	}{
		{"https://oidc.eks.us-west-2.amazonaws.com/id/AAAA/keys", kw.ID},
		{"https://oidc.eks.us-east-1.amazonaws.com/id/AAAA/keys", ke.ID},
		{"https://oidc.eks.us-west-2.amazonaws.com/id/BBBB/keys", kw2.ID},
		{srv.URL() + "/id/BBBB/keys", kw2.ID},
		// On the loopback address paths alone cannot tell west from east:
		// the issuer added first wins.
		{srv.URL() + "/id/AAAA/keys", kw.ID},
	} {
		status, _, jwks := getJSON(t, c, tc.url)
		require.Equal(t, http.StatusOK, status, tc.url)
		require.Equal(t, tc.kid, jwks["keys"].([]any)[0].(map[string]any)["kid"], tc.url)
	}
	iss, ok := h.Match("oidc.eks.us-east-1.amazonaws.com", "/id/AAAA/.well-known/openid-configuration")
	require.True(t, ok)
	require.Equal(t, east.URL(), iss.URL())
	_, ok = h.Match("oidc.eks.us-east-1.amazonaws.com", "/id/BBBB/keys")
	require.False(t, ok)
	_, ok = h.Match("localhost", "/id/AAAAB/keys")
	require.False(t, ok)

	req, err := http.NewRequest(http.MethodHead, "https://oidc.eks.us-west-2.amazonaws.com/id/AAAA/.well-known/openid-configuration", nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))

	_, err = h.AddIssuer("http://oidc.example/id/x")
	require.Error(t, err)
	_, err = h.AddIssuer("https://oidc.example/id/x?q=1")
	require.Error(t, err)
}

func TestES384KeyRoundTrip(t *testing.T) {
	srv := newServer(t)
	iss, err := srv.Handler().AddIssuer(eksIssuer)
	require.NoError(t, err)
	_, err = iss.AddKey("ES384")
	require.NoError(t, err)
	tok, err := iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: "a", ServiceAccount: "b", Audiences: []string{"sts.amazonaws.com"}})
	require.NoError(t, err)
	keys := &jwtverify.DiscoveryKeys{Client: srv.Client()}
	_, err = (&jwtverify.Verifier{Keys: keys}).Verify(context.Background(), tok)
	var e *jwtverify.Error
	require.True(t, errors.As(err, &e))
	require.Equal(t, jwtverify.CodeUnsupportedAlg, e.Code, "ES384 is off by default, as in AWS STS")
	got, err := (&jwtverify.Verifier{Keys: keys, Algorithms: []string{"ES384"}}).Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, "ES384", got.Header.Alg)
	_, _, doc := getJSON(t, srv.Client(), eksIssuer+"/.well-known/openid-configuration")
	require.Equal(t, []any{"ES384"}, doc["id_token_signing_alg_values_supported"])
}

func TestVerificationOnlyKeysAndSigner(t *testing.T) {
	h, err := oidc.New(oidc.Options{})
	require.NoError(t, err)
	iss, err := h.AddIssuer(eksIssuer)
	require.NoError(t, err)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pub, err := iss.AddPublicKey(k.Public())
	require.NoError(t, err)
	require.Nil(t, pub.Signer)
	require.Empty(t, iss.SigningKeyID())
	require.Error(t, iss.SetSigningKey(pub.ID), "a verification-only key cannot sign")
	_, err = iss.Sign(map[string]any{"a": 1})
	require.ErrorIs(t, err, oidc.ErrNoSigningKey)

	// The lab mounts the same key pair into kube-apiserver: adding its
	// private half upgrades the published key instead of duplicating it.
	withSigner, err := iss.AddSigner(k)
	require.NoError(t, err)
	require.Equal(t, pub.ID, withSigner.ID)
	require.Len(t, iss.Keys(), 1)
	require.Equal(t, pub.ID, iss.SigningKeyID())
	require.Error(t, iss.RemoveKey("nope"))
	require.Error(t, iss.SetSigningKey("nope"))
	require.NoError(t, iss.RemoveKey(pub.ID))
	require.Empty(t, iss.Keys())
	require.Empty(t, iss.SigningKeyID())
	_, err = iss.AddKey("HS256")
	require.Error(t, err)
}

func TestAdminAPIKeysAndListing(t *testing.T) {
	admin := adminServer(t, newServer(t))
	do := func(method, path, body string) (int, []byte) {
		req, err := http.NewRequest(method, admin.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, b
	}
	status, _ := do("POST", "/_idlab/oidc/issuers", `{"url":"`+gkeIssuer+`","jwksPath":"/jwks"}`)
	require.Equal(t, http.StatusCreated, status)
	status, body := do("POST", "/_idlab/oidc/issuers/keys?issuer="+gkeIssuer, `{"alg":"ES256"}`)
	require.Equal(t, http.StatusCreated, status)
	var key map[string]string
	require.NoError(t, json.Unmarshal(body, &key))
	require.Equal(t, "ES256", key["alg"])
	status, _ = do("POST", "/_idlab/oidc/issuers/keys?issuer="+gkeIssuer+"&alg=RS256", ``)
	require.Equal(t, http.StatusCreated, status)
	status, _ = do("POST", "/_idlab/oidc/issuers/keys?issuer="+gkeIssuer+"&alg=HS256", ``)
	require.Equal(t, http.StatusBadRequest, status)

	status, body = do("GET", "/_idlab/oidc/issuers", ``)
	require.Equal(t, http.StatusOK, status)
	var list []struct {
		URL          string
		JWKSURI      string `json:"jwksUri"`
		Keys         []string
		SigningKey   string
		TokensMinted int64
	}
	require.NoError(t, json.Unmarshal(body, &list))
	require.Len(t, list, 1)
	require.Equal(t, gkeIssuer+"/jwks", list[0].JWKSURI)
	require.Len(t, list[0].Keys, 2)
	require.Equal(t, key["kid"], list[0].SigningKey)
	require.Zero(t, list[0].TokensMinted)

	status, body = do("POST", "/_idlab/oidc/token", `{"issuer":"`+gkeIssuer+`","namespace":"ns","serviceAccount":"sa","serviceAccountUID":"u1","secret":{"name":"s","uid":"su"}}`)
	require.Equal(t, http.StatusOK, status, string(body))
	var tok map[string]string
	require.NoError(t, json.Unmarshal(body, &tok))
	got, err := jwtverify.ParseUnverified(tok["token"])
	require.NoError(t, err)
	require.Equal(t, []string{gkeIssuer}, got.Claims.Audience)
	require.Equal(t, map[string]any{"name": "s", "uid": "su"}, got.Claims.Raw["kubernetes.io"].(map[string]any)["secret"])
	status, _ = do("POST", "/_idlab/oidc/token", `{"issuer":"`+gkeIssuer+`","namespace":"ns","serviceAccount":"sa","expirationSeconds":60}`)
	require.Equal(t, http.StatusBadRequest, status)
	status, body = do("GET", "/_idlab/oidc/issuers", ``)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, json.Unmarshal(body, &list))
	require.EqualValues(t, 1, list[0].TokensMinted, "the refused request minted nothing")

	status, _ = do("DELETE", "/_idlab/oidc/issuers/keys/"+key["kid"]+"?issuer="+gkeIssuer, ``)
	require.Equal(t, http.StatusNoContent, status)
	status, _ = do("DELETE", "/_idlab/oidc/issuers/keys/"+key["kid"]+"?issuer="+gkeIssuer, ``)
	require.Equal(t, http.StatusNotFound, status)
	status, _ = do("DELETE", "/_idlab/oidc/issuers/keys/x?issuer=https://nope", ``)
	require.Equal(t, http.StatusNotFound, status)
	status, body = do("GET", "/_idlab/oidc/nothing", ``)
	require.Equal(t, http.StatusNotFound, status)
	require.Contains(t, string(body), `"error":"NotFound"`)

	// Rotation: a key added with signing=true (query or body) signs from
	// then on; without it the signing key stays.
	for _, tc := range []struct{ query, body string }{{"&signing=true", ``}, {"", `{"alg":"RS256","signing":true}`}} {
		status, body = do("POST", "/_idlab/oidc/issuers/keys?issuer="+gkeIssuer+tc.query, tc.body)
		require.Equal(t, http.StatusCreated, status, string(body))
		require.NoError(t, json.Unmarshal(body, &key))
		require.Equal(t, key["kid"], key["signingKey"])
		status, body = do("POST", "/_idlab/oidc/token", `{"issuer":"`+gkeIssuer+`","namespace":"ns","serviceAccount":"sa"}`)
		require.Equal(t, http.StatusOK, status, string(body))
		require.NoError(t, json.Unmarshal(body, &tok))
		got, err = jwtverify.ParseUnverified(tok["token"])
		require.NoError(t, err)
		require.Equal(t, key["kid"], got.Header.Kid)
	}
	signing := key["kid"]
	status, body = do("POST", "/_idlab/oidc/issuers/keys?issuer="+gkeIssuer, ``)
	require.Equal(t, http.StatusCreated, status)
	require.NoError(t, json.Unmarshal(body, &key))
	require.Equal(t, signing, key["signingKey"], "a key added without signing=true does not sign")
}
