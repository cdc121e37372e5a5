package jwtverify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func FuzzParseUnverified(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln")
	f.Add("a.b.c")
	f.Add("")
	f.Add("..")
	f.Add("eyJhbGciOiJub25lIn0.eyJhdWQiOlsxXSwiZXhwIjoiMSJ9.")
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjEuNWUzMDAsImF1ZCI6WyJhIiwiYiJdfQ.")
	f.Add("eyJhbGciOiJSUzI1NiIsImNyaXQiOlsiYjY0Il19.eyJuYmYiOi0xfQ.AA")
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := ParseUnverified(raw)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is %T, want *Error", err)
			}
			return
		}
		if tok.Header.Alg == "" || tok.Claims.Raw == nil || len(raw) > MaxTokenSize || strings.Count(raw, ".") != 2 {
			t.Fatalf("accepted a malformed token: %q", raw)
		}
	})
}

// FuzzVerify feeds arbitrary strings (seeded with validly signed RS256 and
// ES256 tokens and crafted attacks) to Verify. Nothing may panic, every
// failure is an *Error, and a token verifies only if its exact signing input
// (header.payload) is one the test keys really signed. ECDSA signatures are
// malleable ((r,s) and (r,n-s) both verify), so the property is about the
// signed bytes, not the signature bytes.
func FuzzVerify(f *testing.F) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	keys := StaticKeys{testIssuer: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: rk.Public(), KeyID: "k", Use: "sig"},
		{Key: ek.Public(), KeyID: "e", Use: "sig"},
	}}}
	claims := []byte(`{"iss":"` + testIssuer + `","sub":"system:serviceaccount:a:b","aud":["sts.amazonaws.com"],"exp":1795000000,"iat":1764000000,"nbf":1764000000}`)
	signed := map[string]bool{}
	rsIn := b64([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + b64(claims)
	esIn := b64([]byte(`{"alg":"ES256","kid":"e"}`)) + "." + b64(claims)
	rsNoKid := b64([]byte(`{"alg":"RS256"}`)) + "." + b64(claims)
	for _, in := range []string{rsIn, rsNoKid} {
		d := sha256.Sum256([]byte(in))
		sig, err := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, d[:])
		if err != nil {
			f.Fatal(err)
		}
		signed[in] = true
		f.Add(in + "." + b64(sig))
	}
	{
		d := sha256.Sum256([]byte(esIn))
		r, s, err := ecdsa.Sign(rand.Reader, ek, d[:])
		if err != nil {
			f.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		signed[esIn] = true
		f.Add(esIn + "." + b64(sig))
	}
	f.Add(rsIn + ".")
	f.Add(b64([]byte(`{"alg":"HS256","kid":"k"}`)) + "." + b64(claims) + ".AAAA")
	f.Add(b64([]byte(`{"alg":"none"}`)) + "." + b64(claims) + ".")
	f.Add(b64([]byte(`{"alg":"ES256","kid":"k"}`)) + "." + b64(claims) + "." + b64(make([]byte, 64)))
	v := &Verifier{Keys: keys, Now: func() time.Time { return time.Unix(1764000100, 0) }}
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := v.Verify(context.Background(), raw)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is %T, want *Error", err)
			}
			return
		}
		if !signed[tok.signingInput] {
			t.Fatalf("verified a token the keys never signed: %q", raw)
		}
	})
}
