package jwtverify

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func FuzzParseUnverified(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln")
	f.Add("a.b.c")
	f.Add("")
	f.Add("eyJhbGciOiJub25lIn0.eyJhdWQiOlsxXSwiZXhwIjoiMSJ9.")
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := ParseUnverified(raw)
		if err == nil && (tok.Header.Alg == "" || tok.Claims.Raw == nil) {
			t.Fatalf("accepted a token without alg or claims: %q", raw)
		}
	})
}

// FuzzVerify mutates a validly signed token; nothing but the original may verify.
func FuzzVerify(f *testing.F) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	keys := StaticKeys{testIssuer: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: "k", Use: "sig"}}}}
	claims := []byte(`{"iss":"` + testIssuer + `","sub":"system:serviceaccount:a:b","aud":["sts.amazonaws.com"],"exp":` +
		"1795000000" + `,"iat":1764000000}`)
	in := b64([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + b64(claims)
	good := signWith(f, k, in)
	f.Add(good)
	f.Add(in + ".")
	f.Add(b64([]byte(`{"alg":"HS256","kid":"k"}`)) + "." + b64(claims) + ".AAAA")
	v := &Verifier{Keys: keys, Now: func() time.Time { return time.Unix(1764000100, 0) }}
	f.Fuzz(func(t *testing.T, raw string) {
		_, err := v.Verify(context.Background(), raw)
		if err == nil && raw != good {
			t.Fatalf("verified a token the key never signed: %q", raw)
		}
	})
}

func signWith(f *testing.F, k *rsa.PrivateKey, in string) string {
	sig, err := rsaSign(k, in)
	if err != nil {
		f.Fatal(err)
	}
	return in + "." + b64(sig)
}
