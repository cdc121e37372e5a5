package jwtverify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// DefaultLeeway is the clock skew tolerated on exp, nbf and iat. AWS does
// not publish the skew STS tolerates for web-identity tokens (its API
// reference only says an expired token gets ExpiredTokenException); five
// minutes is the customary OIDC relying-party allowance (RFC 7519 4.1.4 "no
// more than a few minutes"), the Kerberos/SigV4-era norm, and what
// go-oidc-style verifiers use. Set Verifier.Leeway to change it.
const DefaultLeeway = 5 * time.Minute

// DefaultAlgorithms are the signature algorithms accepted by default: what
// AWS STS accepts for OIDC federation (RS256, ES256) and nothing symmetric.
var DefaultAlgorithms = []string{"RS256", "ES256"}

// SupportedAlgorithms are all algorithms Verifier can check; Verifier.Algorithms
// entries outside this list (none, HS256, ...) are never accepted.
var SupportedAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// MinRSABits is the smallest RSA modulus accepted.
const MinRSABits = 2048

// KeySet finds the published keys of an issuer.
type KeySet interface {
	Keys(ctx context.Context, issuer string) (*jose.JSONWebKeySet, error)
}

// Refresher is implemented by key sets that can refetch an issuer's keys
// when a token names a kid they do not hold (DiscoveryKeys does, rate
// limited). Verifier uses it once per token.
type Refresher interface {
	Refresh(ctx context.Context, issuer string) (*jose.JSONWebKeySet, error)
}

// StaticKeys maps issuer URLs to fixed key sets; for tests.
type StaticKeys map[string]*jose.JSONWebKeySet

// Keys returns the issuer's keys or a CodeKeyFetch error.
func (s StaticKeys) Keys(_ context.Context, issuer string) (*jose.JSONWebKeySet, error) {
	ks, ok := s[issuer]
	if !ok {
		return nil, fail(CodeKeyFetch, "no keys known for issuer %q", issuer)
	}
	return ks, nil
}

// Verifier checks signatures and time claims. The zero value with Keys set
// uses the defaults above.
type Verifier struct {
	Keys KeySet
	Now  func() time.Time // Defaults to time.Now.
	// Leeway is the clock skew allowed on exp, nbf and iat. Defaults to
	// DefaultLeeway (5 minutes); negative means none.
	Leeway time.Duration
	// Algorithms is the alg allow-list. Defaults to DefaultAlgorithms
	// (RS256, ES256); "none", HS* and anything outside SupportedAlgorithms
	// are refused even when listed.
	Algorithms []string
	// AllowNoExpiry accepts tokens without exp. By default they fail with
	// CodeMissingClaim, as AWS STS requires exp.
	AllowNoExpiry bool
}

// Verify parses raw, checks alg, finds the key by kid, checks the signature
// and then exp/nbf/iat. Audience and issuer policy are the caller's.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Token, error) {
	t, err := ParseUnverified(raw)
	if err != nil {
		return nil, err
	}
	if err := v.VerifyToken(ctx, t); err != nil {
		return nil, err
	}
	return t, nil
}

// VerifyToken verifies a token already parsed with ParseUnverified.
func (v *Verifier) VerifyToken(ctx context.Context, t *Token) error {
	algs := v.Algorithms
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	if !slices.Contains(algs, t.Header.Alg) || !slices.Contains(SupportedAlgorithms, t.Header.Alg) {
		return fail(CodeUnsupportedAlg, "signing algorithm %q is not accepted (accepted: %v)", t.Header.Alg, algs)
	}
	if len(t.Header.Crit) > 0 {
		return fail(CodeUnsupportedCrit, "header marks extensions %v critical", t.Header.Crit)
	}
	if t.Claims.Issuer == "" {
		return fail(CodeMissingClaim, "token has no iss")
	}
	if v.Keys == nil {
		return fail(CodeKeyFetch, "verifier has no key source")
	}
	ks, err := v.Keys.Keys(ctx, t.Claims.Issuer)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		return &Error{Code: CodeKeyFetch, Msg: "fetch keys for " + t.Claims.Issuer, Err: err}
	}
	if ks == nil {
		ks = &jose.JSONWebKeySet{}
	}
	key, err := pickKey(ks, t.Header)
	if r, ok := v.Keys.(Refresher); ok && t.Header.Kid != "" && isCode(err, CodeKeyNotFound) && ks.Key(t.Header.Kid) == nil {
		// The kid is unknown: the issuer may have rotated since we cached.
		if ks, rerr := r.Refresh(ctx, t.Claims.Issuer); rerr == nil && ks != nil {
			key, err = pickKey(ks, t.Header)
		}
	}
	if err != nil {
		return err
	}
	if err := checkSignature(t, key); err != nil {
		return err
	}
	return v.checkTimes(t)
}

func isCode(err error, c Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == c
}

// pickKey selects the JWK for the header: by kid, or the only signing key of
// the right type when the token has no kid.
func pickKey(ks *jose.JSONWebKeySet, h Header) (crypto.PublicKey, error) {
	var candidates []jose.JSONWebKey
	if h.Kid != "" {
		candidates = ks.Key(h.Kid)
	} else {
		candidates = ks.Keys
	}
	var usable []crypto.PublicKey
	var reason error
	for _, k := range candidates {
		if k.Use == "enc" {
			reason = fail(CodeInvalidKey, "key %q is published for encryption, not signatures", k.KeyID)
			continue
		}
		if k.Algorithm != "" && k.Algorithm != h.Alg {
			reason = fail(CodeKeyNotFound, "key %q is for %s, token uses %s", k.KeyID, k.Algorithm, h.Alg)
			continue
		}
		pub, err := usableKey(k.Key, h.Alg)
		if err != nil {
			reason = err
			continue
		}
		usable = append(usable, pub)
	}
	switch {
	case len(usable) == 1:
		return usable[0], nil
	case len(usable) > 1:
		return nil, fail(CodeKeyNotFound, "token has no kid and the issuer publishes %d usable keys", len(usable))
	case reason != nil:
		return nil, reason
	case h.Kid != "":
		return nil, fail(CodeKeyNotFound, "no published key has kid %q", h.Kid)
	default:
		return nil, fail(CodeKeyNotFound, "the issuer publishes no key usable for %s", h.Alg)
	}
}

// usableKey checks that the key type fits alg and is strong enough.
func usableKey(k any, alg string) (crypto.PublicKey, error) {
	switch alg[:2] {
	case "RS", "PS":
		pub, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fail(CodeKeyNotFound, "the key for %s must be RSA, got %T", alg, k)
		}
		if pub.N.BitLen() < MinRSABits {
			return nil, fail(CodeInvalidKey, "RSA key of %d bits is weaker than %d", pub.N.BitLen(), MinRSABits)
		}
		return pub, nil
	case "ES":
		pub, ok := k.(*ecdsa.PublicKey)
		if !ok {
			return nil, fail(CodeKeyNotFound, "the key for %s must be ECDSA, got %T", alg, k)
		}
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		if want == nil || pub.Curve != want {
			return nil, fail(CodeKeyNotFound, "ECDSA key curve does not match %s", alg)
		}
		return pub, nil
	}
	return nil, fail(CodeUnsupportedAlg, "algorithm %q", alg)
}

func checkSignature(t *Token, key crypto.PublicKey) error {
	var h hash.Hash
	var ch crypto.Hash
	switch t.Header.Alg[2:] {
	case "256":
		h, ch = sha256.New(), crypto.SHA256
	case "384":
		h, ch = sha512.New384(), crypto.SHA384
	case "512":
		h, ch = sha512.New(), crypto.SHA512
	default:
		return fail(CodeUnsupportedAlg, "algorithm %q", t.Header.Alg)
	}
	h.Write([]byte(t.signingInput))
	digest := h.Sum(nil)
	bad := fail(CodeBadSignature, "signature does not verify with the issuer's key")
	switch k := key.(type) {
	case *rsa.PublicKey:
		var err error
		if t.Header.Alg[:2] == "PS" {
			err = rsa.VerifyPSS(k, ch, digest, t.signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(k, ch, digest, t.signature)
		}
		if err != nil {
			return bad
		}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(t.signature) != 2*size {
			return bad
		}
		r := new(big.Int).SetBytes(t.signature[:size])
		s := new(big.Int).SetBytes(t.signature[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			return bad
		}
	default:
		return fail(CodeKeyNotFound, "unsupported key type %T", key)
	}
	return nil
}

func (v *Verifier) checkTimes(t *Token) error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	n := now()
	leeway := v.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		leeway = 0
	}
	c := t.Claims
	if c.Expiry == nil {
		if !v.AllowNoExpiry {
			return fail(CodeMissingClaim, "token has no exp")
		}
	} else if !n.Before(c.Expiry.Add(leeway)) {
		return &Error{Code: CodeExpired, Msg: fmt.Sprintf("current date/time %d must be before the expiration date/time %d", n.Unix(), c.Expiry.Unix())}
	}
	if c.NotBefore != nil && n.Add(leeway).Before(*c.NotBefore) {
		return fail(CodeNotYetValid, "token is not valid before %s", c.NotBefore.Format(time.RFC3339))
	}
	if c.IssuedAt != nil && n.Add(leeway).Before(*c.IssuedAt) {
		return fail(CodeIssuedInFuture, "token was issued in the future (%s)", c.IssuedAt.Format(time.RFC3339))
	}
	return nil
}
