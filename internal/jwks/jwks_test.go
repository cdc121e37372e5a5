package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
)

// keyJSON is the public JWK of pub with kid and use, as kube-apiserver
// publishes it.
func keyJSON(t testing.TB, pub crypto.PublicKey, kid string) map[string]any {
	t.Helper()
	raw, err := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: kid, Use: "sig", Algorithm: "RS256"})
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

func setJSON(t testing.TB, keys ...map[string]any) string {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"keys": keys})
	require.NoError(t, err)
	return string(raw)
}

func TestParse(t *testing.T) {
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	ec256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	good := keyJSON(t, rsa2048.Public(), "a")
	ec := keyJSON(t, ec256.Public(), "b")
	delete(ec, "alg")
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range m {
			out[kk] = vv
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	private := func() map[string]any {
		raw, err := json.Marshal(jose.JSONWebKey{Key: rsa2048, KeyID: "p", Use: "sig"})
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		return m
	}()
	okp := map[string]any{"kty": "OKP", "crv": "X448", "x": "AA", "kid": "future"}
	tests := []struct {
		name     string
		raw      string
		keys     []string // kids
		skipped  int
		errMatch string
	}{
		{name: "one RSA key", raw: setJSON(t, good), keys: []string{"a"}},
		{name: "RSA and EC, rotation", raw: setJSON(t, good, ec), keys: []string{"a", "b"}},
		{name: "unknown key type skipped", raw: setJSON(t, okp, good), keys: []string{"a"}, skipped: 1},
		{name: "use omitted", raw: setJSON(t, with(good, "use", nil)), keys: []string{"a"}},
		{name: "only unknown types", raw: setJSON(t, okp), errMatch: "no RSA or EC signing key"},
		{name: "empty keys", raw: `{"keys":[]}`, errMatch: "no RSA or EC signing key"},
		{name: "no keys member", raw: `{"kids":[]}`, errMatch: "no keys array"},
		{name: "keys null", raw: `{"keys":null}`, errMatch: "no keys array"},
		{name: "array", raw: `[{"keys":[]}]`, errMatch: "not a JSON object"},
		{name: "empty", raw: ``, errMatch: "not a JSON object"},
		{name: "trailing data", raw: setJSON(t, good) + `{}`, errMatch: "data after"},
		{name: "private RSA key", raw: setJSON(t, private), errMatch: "private or symmetric"},
		{name: "symmetric key", raw: setJSON(t, map[string]any{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}), errMatch: "private or symmetric"},
		{name: "encryption key", raw: setJSON(t, with(good, "use", "enc")), errMatch: `use "enc"`},
		{name: "no kid", raw: setJSON(t, with(good, "kid", nil)), errMatch: "no kid"},
		{name: "repeated kid", raw: setJSON(t, good, with(ec, "kid", "a")), errMatch: "repeated"},
		{name: "short RSA key", raw: setJSON(t, keyJSON(t, rsa1024.Public(), "s")), errMatch: "1024 bits"},
		{name: "P-224", raw: setJSON(t, with(with(ec, "crv", "P-224"), "alg", nil)), errMatch: "JWKS key 0"},
		{name: "broken RSA key", raw: setJSON(t, with(good, "n", 7)), errMatch: "JWKS key 0"},
		{name: "key not an object", raw: `{"keys":[1]}`, errMatch: "not an object"},
		{name: "too large", raw: `{"keys":[],"x":"` + strings.Repeat("a", MaxSize) + `"}`, errMatch: "more than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Parse([]byte(tc.raw))
			if tc.errMatch != "" {
				require.ErrorIs(t, err, ErrInvalid)
				require.ErrorContains(t, err, tc.errMatch)
				return
			}
			require.NoError(t, err)
			var kids []string
			for _, k := range set.Keys {
				kids = append(kids, k.KeyID)
				require.True(t, k.IsPublic())
			}
			require.Equal(t, tc.keys, kids)
			require.Equal(t, tc.skipped, set.Skipped)
		})
	}
}

func TestParseDiscovery(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		want     Discovery
		errMatch string
	}{
		{name: "kind's", raw: `{"issuer":"https://kubernetes.default.svc.cluster.local","jwks_uri":"https://172.18.0.2:6443/openid/v1/jwks","response_types_supported":["id_token"]}`,
			want: Discovery{Issuer: "https://kubernetes.default.svc.cluster.local", JWKSURI: "https://172.18.0.2:6443/openid/v1/jwks"}},
		{name: "EKS's", raw: `{"issuer":"https://oidc.eks.us-west-2.amazonaws.com/id/ABC","jwks_uri":"https://oidc.eks.us-west-2.amazonaws.com/id/ABC/keys"}`,
			want: Discovery{Issuer: "https://oidc.eks.us-west-2.amazonaws.com/id/ABC", JWKSURI: "https://oidc.eks.us-west-2.amazonaws.com/id/ABC/keys"}},
		{name: "no issuer", raw: `{"jwks_uri":"https://a/keys"}`, errMatch: "no issuer"},
		{name: "http issuer", raw: `{"issuer":"http://a","jwks_uri":"https://a/keys"}`, errMatch: "not an https URL"},
		{name: "issuer with query", raw: `{"issuer":"https://a?x=1","jwks_uri":"https://a/keys"}`, errMatch: "query"},
		{name: "issuer with fragment", raw: `{"issuer":"https://a#x","jwks_uri":"https://a/keys"}`, errMatch: "fragment"},
		{name: "issuer with user", raw: `{"issuer":"https://u@a","jwks_uri":"https://a/keys"}`, errMatch: "user info"},
		{name: "no jwks_uri", raw: `{"issuer":"https://a"}`, errMatch: "no jwks_uri"},
		{name: "http jwks_uri", raw: `{"issuer":"https://a","jwks_uri":"http://a/keys"}`, errMatch: "jwks_uri"},
		{name: "issuer not a string", raw: `{"issuer":1,"jwks_uri":"https://a/keys"}`, errMatch: "not a JSON object"},
		{name: "not JSON", raw: `<html>`, errMatch: "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDiscovery([]byte(tc.raw))
			if tc.errMatch != "" {
				require.ErrorIs(t, err, ErrInvalid)
				require.ErrorContains(t, err, tc.errMatch)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// FuzzParse: any input either fails with ErrInvalid or gives at least one
// public RSA or EC key with a unique kid.
func FuzzParse(f *testing.F) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(f, err)
	f.Add([]byte(setJSON(f, keyJSON(f, key.Public(), "a"))))
	f.Add([]byte(`{"keys":[{"kty":"OKP"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"x","d":"AA"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`{}{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		set, err := Parse(raw)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			return
		}
		require.NotEmpty(t, set.Keys)
		seen := map[string]bool{}
		for _, k := range set.Keys {
			require.True(t, k.IsPublic())
			require.NotEmpty(t, k.KeyID)
			require.False(t, seen[k.KeyID])
			seen[k.KeyID] = true
		}
	})
}

// FuzzParseDiscovery: any input either fails with ErrInvalid or gives an
// https issuer and jwks_uri.
func FuzzParseDiscovery(f *testing.F) {
	f.Add([]byte(`{"issuer":"https://kubernetes.default.svc.cluster.local","jwks_uri":"https://172.18.0.2:6443/openid/v1/jwks"}`))
	f.Add([]byte(`{"issuer":"https://a?","jwks_uri":"https://a"}`))
	f.Add([]byte(`{"issuer":"https://a"} x`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := ParseDiscovery(raw)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			return
		}
		require.True(t, strings.HasPrefix(d.Issuer, "https://"))
		require.True(t, strings.HasPrefix(d.JWKSURI, "https://"))
	})
}
