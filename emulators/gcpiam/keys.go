package gcpiam

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// signingKey is an RSA key with Google's kid (40 hex digits) and the
// self-signed certificate /oauth2/v1/certs publishes.
type signingKey struct {
	id   string
	key  *rsa.PrivateKey
	cert []byte // DER
}

func generateSigningKey() (*signingKey, string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", fmt.Errorf("generate RSA key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, "", fmt.Errorf("marshal key: %w", err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	sk, err := parseSigningKey(pemKey)
	return sk, pemKey, err
}

func parseSigningKey(pemKey string) (*signingKey, error) {
	b, _ := pem.Decode([]byte(pemKey))
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want RSA", k)
	}
	pub, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha1.Sum(pub)
	sk := &signingKey{id: hex.EncodeToString(sum[:]), key: rk}
	// A deterministic self-signed certificate, as Google publishes one per
	// key at /oauth2/v1/certs (valid from the key's birth for two weeks in
	// reality; the lab's is long-lived).
	serial := new(big.Int).SetBytes(sum[:8])
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "accounts.google.com"},
		NotBefore:    time.Unix(0, 0).UTC(),
		NotAfter:     time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rk.PublicKey, rk)
	if err != nil {
		return nil, fmt.Errorf("self-sign certificate: %w", err)
	}
	sk.cert = cert
	return sk, nil
}

// jwk is the key as Google's /oauth2/v3/certs lists it.
func (k *signingKey) jwk() map[string]string {
	return map[string]string{
		"kty": "RSA",
		"alg": "RS256",
		"use": "sig",
		"kid": k.id,
		"n":   base64.RawURLEncoding.EncodeToString(k.key.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.key.E)).Bytes()),
	}
}

func (k *signingKey) certPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.cert}))
}

// signRS256 returns the RSASSA-PKCS1-v1_5 SHA-256 signature of data.
func (k *signingKey) signRS256(data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	return rsa.SignPKCS1v15(rand.Reader, k.key, crypto.SHA256, sum[:])
}

// signJWT serializes header {alg RS256, kid, typ JWT} and claims and signs them.
func (k *signingKey) signJWT(claims any) (string, error) {
	hdr, err := json.Marshal(map[string]string{"alg": "RS256", "kid": k.id, "typ": "JWT"})
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(body)
	sig, err := k.signRS256([]byte(input))
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// saKey returns (creating on first use) the service account's own key,
// which signJwt and signBlob sign with and
// /service_accounts/v1/{jwk,metadata/x509}/EMAIL publish.
func (h *Handler) saKeyLocked(email string) (*signingKey, error) {
	if k, ok := h.saKeys[email]; ok {
		return k, nil
	}
	if p, ok := h.st.SAKeys[email]; ok {
		k, err := parseSigningKey(p)
		if err != nil {
			return nil, fmt.Errorf("service account key of %s: %w", email, err)
		}
		h.saKeys[email] = k
		return k, nil
	}
	k, p, err := generateSigningKey()
	if err != nil {
		return nil, err
	}
	h.saKeys[email], h.st.SAKeys[email] = k, p
	return k, h.saveLocked()
}
