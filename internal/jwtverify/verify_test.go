package jwtverify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
)

const testIssuer = "https://oidc.eks.us-west-2.amazonaws.com/id/TEST"

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

type fixture struct {
	rsa    *rsa.PrivateKey
	rsa2   *rsa.PrivateKey // published too (rotation)
	stray  *rsa.PrivateKey // never published
	weak   *rsa.PrivateKey // 1024 bits, published under kid "weak"
	ec     *ecdsa.PrivateKey
	keys   StaticKeys
	encKey *rsa.PrivateKey
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	gen := func(bits int) *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		require.NoError(t, err)
		return k
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	f := &fixture{rsa: gen(2048), rsa2: gen(2048), stray: gen(2048), weak: gen(1024), ec: ec, encKey: gen(2048)}
	f.keys = StaticKeys{testIssuer: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: f.rsa.Public(), KeyID: "rsa1", Algorithm: "RS256", Use: "sig"},
		{Key: f.rsa2.Public(), KeyID: "rsa2", Algorithm: "RS256", Use: "sig"},
		{Key: f.weak.Public(), KeyID: "weak", Use: "sig"},
		{Key: f.ec.Public(), KeyID: "ec1", Algorithm: "ES256", Use: "sig"},
		{Key: f.encKey.Public(), KeyID: "enc", Use: "enc"},
	}}}
	return f
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func js(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func goodClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "system:serviceaccount:a:app", "aud": []string{"sts.amazonaws.com"},
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
	}
}

// signRS signs header/payload bytes with RS256 PKCS#1 v1.5.
func signRS(t *testing.T, k *rsa.PrivateKey, header, payload []byte) string {
	t.Helper()
	in := b64(header) + "." + b64(payload)
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
	require.NoError(t, err)
	return in + "." + b64(sig)
}

func signES(t *testing.T, k *ecdsa.PrivateKey, header, payload []byte) string {
	t.Helper()
	in := b64(header) + "." + b64(payload)
	d := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	require.NoError(t, err)
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + b64(sig)
}

func with(m map[string]any, k string, v any) map[string]any {
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

func TestVerifyAcceptsGoodTokens(t *testing.T) {
	f := newFixture(t)
	v := &Verifier{Keys: f.keys, Now: func() time.Time { return now }}
	for name, tok := range map[string]string{
		"RS256 kid rsa1":         signRS(t, f.rsa, js(t, map[string]string{"alg": "RS256", "kid": "rsa1"}), js(t, goodClaims())),
		"RS256 rotated kid rsa2": signRS(t, f.rsa2, js(t, map[string]string{"alg": "RS256", "kid": "rsa2"}), js(t, goodClaims())),
		"ES256":                  signES(t, f.ec, js(t, map[string]string{"alg": "ES256", "kid": "ec1"}), js(t, goodClaims())),
		"aud as string":          signRS(t, f.rsa, js(t, map[string]string{"alg": "RS256", "kid": "rsa1"}), js(t, with(goodClaims(), "aud", "sts.amazonaws.com"))),
		"exp within leeway":      signRS(t, f.rsa, js(t, map[string]string{"alg": "RS256", "kid": "rsa1"}), js(t, with(goodClaims(), "exp", now.Add(-time.Minute).Unix()))),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), tok)
			require.NoError(t, err)
			require.Equal(t, testIssuer, got.Claims.Issuer)
			require.Equal(t, []string{"sts.amazonaws.com"}, got.Claims.Audience)
			require.Equal(t, "system:serviceaccount:a:app", got.Claims.Subject)
		})
	}
}

func TestVerifyRejectsCraftedTokens(t *testing.T) {
	f := newFixture(t)
	v := &Verifier{Keys: f.keys, Now: func() time.Time { return now }}
	rsHdr := js(t, map[string]string{"alg": "RS256", "kid": "rsa1"})
	good := signRS(t, f.rsa, rsHdr, js(t, goodClaims()))
	parts := strings.Split(good, ".")
	hmacTok := func(alg string) string {
		der, err := x509.MarshalPKIXPublicKey(f.rsa.Public())
		require.NoError(t, err)
		in := b64(js(t, map[string]string{"alg": alg, "kid": "rsa1"})) + "." + parts[1]
		m := hmac.New(sha256.New, der)
		m.Write([]byte(in))
		return in + "." + b64(m.Sum(nil))
	}
	otherPayload := b64(js(t, with(goodClaims(), "sub", "system:serviceaccount:kube-system:admin")))

	tests := []struct {
		name  string
		token string
		want  Code
	}{
		{"empty", "", CodeMalformed},
		{"one part", "abc", CodeMalformed},
		{"two parts", parts[0] + "." + parts[1], CodeMalformed},
		{"four parts", good + ".x", CodeMalformed},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2], CodeMalformed},
		{"std base64 chars", strings.Replace(good, parts[2], strings.ReplaceAll(parts[2], "-", "+")+"+", 1), CodeMalformed},
		{"bad base64 header", "!!!." + parts[1] + "." + parts[2], CodeMalformed},
		{"header not JSON", b64([]byte("not json")) + "." + parts[1] + "." + parts[2], CodeMalformed},
		{"header JSON array", b64([]byte(`["alg"]`)) + "." + parts[1] + "." + parts[2], CodeMalformed},
		{"header without alg", signRS(t, f.rsa, js(t, map[string]string{"kid": "rsa1"}), js(t, goodClaims())), CodeMalformed},
		{"payload JSON array", signRS(t, f.rsa, rsHdr, []byte(`[1,2]`)), CodeMalformed},
		{"payload trailing data", signRS(t, f.rsa, rsHdr, append(js(t, goodClaims()), []byte(`{}`)...)), CodeMalformed},
		{"exp as string", signRS(t, f.rsa, rsHdr, js(t, with(goodClaims(), "exp", "tomorrow"))), CodeMalformed},
		{"exp negative", signRS(t, f.rsa, rsHdr, js(t, with(goodClaims(), "exp", -5))), CodeMalformed},
		{"aud as number", signRS(t, f.rsa, rsHdr, js(t, with(goodClaims(), "aud", 7))), CodeMalformed},
		{"aud array with number", signRS(t, f.rsa, rsHdr, js(t, with(goodClaims(), "aud", []any{"a", 1}))), CodeMalformed},
		{"iss not string", signRS(t, f.rsa, rsHdr, js(t, with(goodClaims(), "iss", 1))), CodeMalformed},
		{"huge token", good + strings.Repeat("A", MaxTokenSize), CodeMalformed},
		{"alg none", b64(js(t, map[string]string{"alg": "none"})) + "." + parts[1] + ".", CodeUnsupportedAlg},
		{"alg None mixed case", b64(js(t, map[string]string{"alg": "None"})) + "." + parts[1] + ".", CodeUnsupportedAlg},
		{"HS256 with public key as secret", hmacTok("HS256"), CodeUnsupportedAlg},
		{"HS512", hmacTok("HS512"), CodeUnsupportedAlg},
		{"RS384 not allowed", signRS(t, f.rsa, js(t, map[string]string{"alg": "RS384", "kid": "rsa1"}), js(t, goodClaims())), CodeUnsupportedAlg},
		{"crit header", signRS(t, f.rsa, js(t, map[string]any{"alg": "RS256", "kid": "rsa1", "crit": []string{"exp"}}), js(t, goodClaims())), CodeUnsupportedCrit},
		{"missing iss", signRS(t, f.rsa, rsHdr, js(t, with(goodClaims(), "iss", nil))), CodeMissingClaim},
		{"unknown issuer", signRS(t, f.rsa, rsHdr, js(t, with(goodClaims(), "iss", "https://evil.example"))), CodeKeyFetch},
		{"unknown kid", signRS(t, f.rsa, js(t, map[string]string{"alg": "RS256", "kid": "nope"}), js(t, goodClaims())), CodeKeyNotFound},
		{"no kid with several keys", signRS(t, f.rsa, js(t, map[string]string{"alg": "RS256"}), js(t, goodClaims())), CodeKeyNotFound},
		{"stray key claims kid rsa1", signRS(t, f.stray, rsHdr, js(t, goodClaims())), CodeBadSignature},
		{"signed by rsa2 claims kid rsa1", signRS(t, f.rsa2, rsHdr, js(t, goodClaims())), CodeBadSignature},
		{"tampered payload", parts[0] + "." + otherPayload + "." + parts[2], CodeBadSignature},
		{"tampered header kid to rsa2", b64(js(t, map[string]string{"alg": "RS256", "kid": "rsa2"})) + "." + parts[1] + "." + parts[2], CodeBadSignature},
		{"truncated signature", parts[0] + "." + parts[1] + "." + b64(mustDecode(t, parts[2])[:250]), CodeBadSignature},
		{"empty signature", parts[0] + "." + parts[1] + ".", CodeBadSignature},
		{"weak 1024-bit RSA key", signRS(t, f.weak, js(t, map[string]string{"alg": "RS256", "kid": "weak"}), js(t, goodClaims())), CodeInvalidKey},
		{"kid of an encryption key", signRS(t, f.encKey, js(t, map[string]string{"alg": "RS256", "kid": "enc"}), js(t, goodClaims())), CodeInvalidKey},
		{"RS256 header with EC key kid", signRS(t, f.rsa, js(t, map[string]string{"alg": "RS256", "kid": "ec1"}), js(t, goodClaims())), CodeKeyNotFound},
		{"ES256 header with RSA key kid", signES(t, f.ec, js(t, map[string]string{"alg": "ES256", "kid": "rsa1"}), js(t, goodClaims())), CodeKeyNotFound},
		{"jku header is not followed", signRS(t, f.stray, js(t, map[string]string{"alg": "RS256", "kid": "rsa1", "jku": "https://evil.example/jwks"}), js(t, goodClaims())), CodeBadSignature},
		{"x5u header is not followed", signRS(t, f.stray, js(t, map[string]string{"alg": "RS256", "kid": "rsa1", "x5u": "https://evil.example/cert.pem"}), js(t, goodClaims())), CodeBadSignature},
		{"embedded jwk header is not trusted", signRS(t, f.stray, js(t, map[string]any{"alg": "RS256", "kid": "rsa1", "jwk": map[string]string{"kty": "RSA", "n": "AQAB", "e": "AQAB"}}), js(t, goodClaims())), CodeBadSignature},
		{"kid not a string", signRS(t, f.rsa, js(t, map[string]any{"alg": "RS256", "kid": 1}), js(t, goodClaims())), CodeMalformed},
		{"crit not an array", signRS(t, f.rsa, js(t, map[string]any{"alg": "RS256", "kid": "rsa1", "crit": "b64"}), js(t, goodClaims())), CodeMalformed},
		{"payload JSON null", signRS(t, f.rsa, rsHdr, []byte(`null`)), CodeMalformed},
		{"aud null", signRS(t, f.rsa, rsHdr, []byte(`{"iss":"`+testIssuer+`","aud":null,"exp":`+itoa(now.Add(time.Hour).Unix())+`}`)), CodeMalformed},
		{"nbf as bool", signRS(t, f.rsa, rsHdr, js(t, with(goodClaims(), "nbf", true))), CodeMalformed},
		{"exp absurdly far", signRS(t, f.rsa, rsHdr, js(t, with(goodClaims(), "exp", 1e300))), CodeMalformed},
		{"lowercase alg rs256", signRS(t, f.rsa, js(t, map[string]string{"alg": "rs256", "kid": "rsa1"}), js(t, goodClaims())), CodeUnsupportedAlg},
		{"PS256 not allowed by default", signRS(t, f.rsa, js(t, map[string]string{"alg": "PS256", "kid": "rsa1"}), js(t, goodClaims())), CodeUnsupportedAlg},
		{"ES256 signature in DER form", esDER(t, f.ec, js(t, map[string]string{"alg": "ES256", "kid": "ec1"}), js(t, goodClaims())), CodeBadSignature},
		{"signature over other header", parts[0] + "." + parts[1] + "." + b64(mustDecode(t, strings.Split(signRS(t, f.rsa, js(t, map[string]string{"alg": "RS256"}), js(t, goodClaims())), ".")[2])), CodeBadSignature},
		{"nbf beyond leeway", signRS(t, f.rsa, rsHdr, js(t, with(goodClaims(), "nbf", now.Add(DefaultLeeway+time.Second).Unix()))), CodeNotYetValid},
		{"expired", signRS(t, f.rsa, rsHdr, js(t, with(goodClaims(), "exp", now.Add(-time.Hour).Unix()))), CodeExpired},
		{"missing exp", signRS(t, f.rsa, rsHdr, js(t, with(goodClaims(), "exp", nil))), CodeMissingClaim},
		{"nbf in the future", signRS(t, f.rsa, rsHdr, js(t, with(goodClaims(), "nbf", now.Add(time.Hour).Unix()))), CodeNotYetValid},
		{"iat in the future", signRS(t, f.rsa, rsHdr, js(t, with(goodClaims(), "iat", now.Add(time.Hour).Unix()))), CodeIssuedInFuture},
	}
	require.GreaterOrEqual(t, len(tests), 30)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.token)
			require.Error(t, err)
			var e *Error
			require.True(t, errors.As(err, &e), "want *Error, got %T: %v", err, err)
			require.Equal(t, tc.want, e.Code, e.Error())
		})
	}
}

func TestVerifyWithoutKidUsesSoleKey(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keys := StaticKeys{testIssuer: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: "only", Use: "sig"}}}}
	v := &Verifier{Keys: keys, Now: func() time.Time { return now }}
	_, err = v.Verify(context.Background(), signRS(t, k, js(t, map[string]string{"alg": "RS256"}), js(t, goodClaims())))
	require.NoError(t, err)
}

func TestParseUnverifiedDates(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tok := signRS(t, k, js(t, map[string]string{"alg": "RS256"}), []byte(`{"iss":"x","exp":1700000000.5,"aud":"a"}`))
	got, err := ParseUnverified(tok)
	require.NoError(t, err)
	require.Equal(t, int64(1700000000), got.Claims.Expiry.Unix())
	require.Equal(t, 500*time.Millisecond, time.Duration(got.Claims.Expiry.Nanosecond()))
	require.Nil(t, got.Claims.NotBefore)
	_ = big.NewInt
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// esDER signs with ECDSA but encodes the signature as ASN.1 DER (as JCA
// does) instead of the JWS r||s form.
func esDER(t *testing.T, k *ecdsa.PrivateKey, header, payload []byte) string {
	t.Helper()
	in := b64(header) + "." + b64(payload)
	d := sha256.Sum256([]byte(in))
	sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	require.NoError(t, err)
	return in + "." + b64(sig)
}

func TestVerifyNeverAcceptsNoneOrHMACEvenWhenListed(t *testing.T) {
	f := newFixture(t)
	v := &Verifier{Keys: f.keys, Now: func() time.Time { return now }, Algorithms: []string{"none", "HS256", "RS256"}}
	good := signRS(t, f.rsa, js(t, map[string]string{"alg": "RS256", "kid": "rsa1"}), js(t, goodClaims()))
	payload := strings.Split(good, ".")[1]
	_, err := v.Verify(context.Background(), b64(js(t, map[string]string{"alg": "none"}))+"."+payload+".")
	require.Equal(t, CodeUnsupportedAlg, codeOf(t, err))
	_, err = v.Verify(context.Background(), b64(js(t, map[string]string{"alg": "HS256", "kid": "rsa1"}))+"."+payload+".c2ln")
	require.Equal(t, CodeUnsupportedAlg, codeOf(t, err))
	_, err = v.Verify(context.Background(), good)
	require.NoError(t, err)
}

func TestVerifyLeeway(t *testing.T) {
	f := newFixture(t)
	tok := signRS(t, f.rsa, js(t, map[string]string{"alg": "RS256", "kid": "rsa1"}), js(t, with(goodClaims(), "exp", now.Add(-time.Minute).Unix())))
	for _, tc := range []struct {
		leeway time.Duration
		want   Code
	}{{0, ""}, {-1, CodeExpired}, {30 * time.Second, CodeExpired}, {2 * time.Minute, ""}} {
		v := &Verifier{Keys: f.keys, Now: func() time.Time { return now }, Leeway: tc.leeway}
		_, err := v.Verify(context.Background(), tok)
		if tc.want == "" {
			require.NoError(t, err, "leeway %v", tc.leeway)
		} else {
			require.Equal(t, tc.want, codeOf(t, err), "leeway %v", tc.leeway)
		}
	}
}

func TestVerifyPS256AndES384WhenAllowed(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	keys := StaticKeys{testIssuer: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: "ps"}, {Key: ec.Public(), KeyID: "es"}}}}
	v := &Verifier{Keys: keys, Now: func() time.Time { return now }, Algorithms: []string{"PS256", "ES384"}}
	for _, tc := range []struct {
		alg jose.SignatureAlgorithm
		key any
		kid string
	}{{jose.PS256, k, "ps"}, {jose.ES384, ec, "es"}} {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: tc.alg, Key: tc.key}, (&jose.SignerOptions{}).WithHeader("kid", tc.kid))
		require.NoError(t, err)
		obj, err := s.Sign(js(t, goodClaims()))
		require.NoError(t, err)
		raw, err := obj.CompactSerialize()
		require.NoError(t, err)
		got, err := v.Verify(context.Background(), raw)
		require.NoError(t, err, string(tc.alg))
		require.Equal(t, string(tc.alg), got.Header.Alg)
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

func rsaSign(k *rsa.PrivateKey, in string) ([]byte, error) {
	d := sha256.Sum256([]byte(in))
	return rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
}

func TestVerifyNilKeySetAndMissingSource(t *testing.T) {
	f := newFixture(t)
	tok := signRS(t, f.rsa, js(t, map[string]string{"alg": "RS256", "kid": "rsa1"}), js(t, goodClaims()))
	_, err := (&Verifier{Keys: StaticKeys{testIssuer: nil}, Now: func() time.Time { return now }}).Verify(context.Background(), tok)
	require.Equal(t, CodeKeyNotFound, codeOf(t, err))
	_, err = (&Verifier{Now: func() time.Time { return now }}).Verify(context.Background(), tok)
	require.Equal(t, CodeKeyFetch, codeOf(t, err))
	noExp := signRS(t, f.rsa, js(t, map[string]string{"alg": "RS256", "kid": "rsa1"}), js(t, with(goodClaims(), "exp", nil)))
	_, err = (&Verifier{Keys: f.keys, Now: func() time.Time { return now }, AllowNoExpiry: true}).Verify(context.Background(), noExp)
	require.NoError(t, err)
}
