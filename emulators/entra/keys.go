package entra

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// signingKey is a tenant's token signing key with the self-signed
// certificate Entra publishes beside each key (x5c), whose SHA-1 thumbprint
// is both kid and x5t.
type signingKey struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
	kid  string
}

// newSigningKey makes an RSA-2048 key and a certificate for it, named as
// Entra's token signing certificates are.
func newSigningKey(now time.Time) (*signingKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "accounts.accesscontrol.windows.net"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return nil, fmt.Errorf("self-sign: %w", err)
	}
	return keyFromParts(k, der)
}

func keyFromParts(k *rsa.PrivateKey, certDER []byte) (*signingKey, error) {
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("parse signing certificate: %w", err)
	}
	sum := sha1.Sum(certDER)
	return &signingKey{key: k, cert: cert, kid: base64.RawURLEncoding.EncodeToString(sum[:])}, nil
}

// jwk is the key as Entra's discovery/v2.0/keys lists it.
func (s *signingKey) jwk() jose.JSONWebKey {
	sum := sha1.Sum(s.cert.Raw)
	return jose.JSONWebKey{
		Key: &s.key.PublicKey, KeyID: s.kid, Use: "sig", Algorithm: "RS256",
		Certificates:              []*x509.Certificate{s.cert},
		CertificateThumbprintSHA1: sum[:],
	}
}

// pemKey is the persisted form: PKCS#8 key and certificate.
type pemKey struct {
	Key  string `json:"key"`
	Cert string `json:"cert"`
}

func (s *signingKey) marshal() (pemKey, error) {
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		return pemKey{}, fmt.Errorf("marshal signing key: %w", err)
	}
	return pemKey{
		Key:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		Cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Raw})),
	}, nil
}

func (p pemKey) unmarshal() (*signingKey, error) {
	kb, _ := pem.Decode([]byte(p.Key))
	cb, _ := pem.Decode([]byte(p.Cert))
	if kb == nil || cb == nil {
		return nil, fmt.Errorf("signing key: %w: not PEM", ErrInvalid)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key: %w: %T is not RSA", ErrInvalid, k)
	}
	return keyFromParts(rk, cb.Bytes)
}
