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
		if k.Curve == elliptic.P256() {
			return "ES256", nil
		}
		return "", fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
	}
	return "", fmt.Errorf("unsupported key type %T", pub)
}

// generate makes a fresh key for alg ("RS256" or "ES256").
func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case "", "RS256":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("unsupported algorithm %q (RS256 or ES256)", alg)
}

// jwk is the key as published in the JWKS (use "sig", as kube-apiserver).
func (k *Key) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Public, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"}
}
