// Package jwks parses what an OIDC issuer the lab trusts, but does not sign
// for, publishes: its discovery document and its key set (JWKS), such as a
// Kubernetes API server's /.well-known/openid-configuration and
// /openid/v1/jwks. Both come from a cluster the lab does not control, so
// parsing is strict about what the emulator will trust: public signing
// keys only, of the types kube-apiserver signs with.
package jwks

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"

	jose "github.com/go-jose/go-jose/v4"
)

// MaxSize bounds a discovery document or key set; kube-apiserver's are a
// few kilobytes.
const MaxSize = 1 << 20

// MinRSABits is the smallest RSA key trusted, as AWS IAM requires of an
// OIDC provider's keys (2048).
const MinRSABits = 2048

// ErrInvalid marks a document the lab will not trust; errors wrap it.
var ErrInvalid = errors.New("invalid issuer document")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Discovery is the part of an OIDC discovery document the lab uses.
type Discovery struct {
	// Issuer is the iss of the issuer's tokens.
	Issuer string `json:"issuer"`
	// JWKSURI is where the issuer says its keys are.
	JWKSURI string `json:"jwks_uri"`
}

// ParseDiscovery reads a discovery document: a JSON object whose issuer
// and jwks_uri are https URLs (no query, fragment or user info in the
// issuer, as OpenID Connect Discovery 1.0 section 3 requires of it).
func ParseDiscovery(raw []byte) (Discovery, error) {
	var d Discovery
	if err := decodeObject(raw, &d); err != nil {
		return d, fmt.Errorf("discovery document: %w", err)
	}
	if err := checkHTTPS("issuer", d.Issuer, true); err != nil {
		return d, err
	}
	if err := checkHTTPS("jwks_uri", d.JWKSURI, false); err != nil {
		return d, err
	}
	return d, nil
}

// checkHTTPS checks an https URL with a host; strict also refuses a
// query, fragment and user info (an issuer identifier's rules).
func checkHTTPS(field, raw string, strict bool) error {
	if raw == "" {
		return invalid("discovery document has no %s", field)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return invalid("discovery document: %s %q is not an https URL", field, raw)
	}
	if strict && (u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil) {
		return invalid("discovery document: %s %q has a query, fragment or user info", field, raw)
	}
	return nil
}

// Set is a parsed key set: the keys the lab trusts, and how many it left
// out because it does not know their type (a newer key type beside the
// ones it verifies does not stop the others from working).
type Set struct {
	Keys    []jose.JSONWebKey
	Skipped int
}

// Parse reads a JWKS (RFC 7517 section 5). It fails on anything but a
// JSON object with a keys array, on a key holding private material (a
// published key set never does; trusting one would mean the issuer's
// signing key leaked), on a key for another use than sig, on an RSA key
// under MinRSABits or an EC key off P-256/P-384/P-521, on a missing or
// repeated kid, and when no usable key is left. Keys of a type go-jose
// does not know are skipped and counted.
func Parse(raw []byte) (Set, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := decodeObject(raw, &doc); err != nil {
		return Set{}, fmt.Errorf("JWKS: %w", err)
	}
	if doc.Keys == nil {
		return Set{}, invalid("JWKS has no keys array")
	}
	var set Set
	kids := map[string]bool{}
	for i, m := range doc.Keys {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(m, &members); err != nil {
			return Set{}, invalid("JWKS key %d is not an object", i)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := members[private]; ok {
				return Set{}, invalid("JWKS key %d holds private or symmetric key material (%q)", i, private)
			}
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(m); err != nil {
			var kty string
			_ = json.Unmarshal(members["kty"], &kty)
			if kty != "RSA" && kty != "EC" {
				set.Skipped++
				continue
			}
			return Set{}, invalid("JWKS key %d: %v", i, err)
		}
		if err := checkKey(k); err != nil {
			return Set{}, invalid("JWKS key %d (kid %q): %v", i, k.KeyID, err)
		}
		if kids[k.KeyID] {
			return Set{}, invalid("JWKS key %d: kid %q is repeated", i, k.KeyID)
		}
		kids[k.KeyID] = true
		set.Keys = append(set.Keys, k)
	}
	if len(set.Keys) == 0 {
		return Set{}, invalid("JWKS has no RSA or EC signing key (%d keys of other types)", set.Skipped)
	}
	return set, nil
}

// checkKey checks one parsed key is a public signing key of a type and
// size kube-apiserver signs with.
func checkKey(k jose.JSONWebKey) error {
	if k.KeyID == "" {
		return errors.New("no kid (kube-apiserver names every key)")
	}
	if k.Use != "" && k.Use != "sig" {
		return fmt.Errorf("use %q: want sig", k.Use)
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < MinRSABits {
			return fmt.Errorf("RSA key of %d bits: want at least %d", pub.N.BitLen(), MinRSABits)
		}
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return fmt.Errorf("EC curve %s: want P-256, P-384 or P-521", pub.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("key type %T: want an RSA or EC public key", k.Key)
	}
	return nil
}

// decodeObject decodes one JSON object of at most MaxSize bytes into v,
// with nothing after it.
func decodeObject(raw []byte, v any) error {
	if len(raw) > MaxSize {
		return invalid("%d bytes: more than %d", len(raw), MaxSize)
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return invalid("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		return invalid("not a JSON object: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("data after the JSON object")
	}
	return nil
}
