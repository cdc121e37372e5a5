package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// Key is one issuer key: a public key always, a signer when the issuer may
// mint with it.
type Key struct {
	ID        string
	Algorithm string
	Public    crypto.PublicKey
	Signer    crypto.Signer // nil for verification-only keys
}

// KeyID computes a key ID the way kube-apiserver does: the unpadded
// base64url SHA-256 of the PKIX DER encoding of the public key.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// newKey wraps a public key (and optional signer) with its kid and alg.
func newKey(pub crypto.PublicKey, signer crypto.Signer) (*Key, error) {
	kid, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	alg, err := algFor(pub)
	if err != nil {
		return nil, err
	}
	return &Key{ID: kid, Algorithm: alg, Public: pub, Signer: signer}, nil
}

func algFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RS256", nil
	case *ecdsa.PublicKey:
		// As kube-apiserver's algorithmFromPublicKey: the curve picks alg.
		switch k.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
		return "", fmt.Errorf("unsupported ECDSA curve %s (P-256, P-384 or P-521)", k.Curve.Params().Name)
	}
	return "", fmt.Errorf("unsupported key type %T", pub)
}

// generate makes a fresh key for alg: RS256 (RSA-2048, also for ""), ES256
// (P-256), ES384 (P-384) or ES512 (P-521) - what kube-apiserver can sign with.
func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case "", "RS256":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	}
	return nil, fmt.Errorf("unsupported algorithm %q (RS256, ES256, ES384 or ES512)", alg)
}

// jwk is the key as published in the JWKS (use "sig", as kube-apiserver).
func (k *Key) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Public, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"}
}
