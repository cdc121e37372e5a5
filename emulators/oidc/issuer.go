package oidc

import (
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// ErrNoSigningKey means the issuer has no private key to mint with.
var ErrNoSigningKey = errors.New("issuer has no signing key")

// Issuer is one hosted OIDC issuer.
type Issuer struct {
	url      string
	host     string
	path     string // without trailing slash
	jwksPath string // absolute path of the JWKS
	now      func() time.Time

	mu      sync.RWMutex
	keys    []*Key
	signing string // kid of the key Mint uses
}

// IssuerOption configures AddIssuer.
type IssuerOption func(*Issuer)

// WithJWKSPath serves the JWKS at path below the issuer (e.g.
// "/openid/v1/jwks" as kube-apiserver does) instead of "/keys" (as EKS does).
func WithJWKSPath(path string) IssuerOption {
	return func(i *Issuer) { i.jwksPath = i.path + "/" + strings.TrimPrefix(path, "/") }
}

func newIssuer(raw string, now func() time.Time, opts ...IssuerOption) (*Issuer, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("issuer URL %q: %w", raw, err)
	}
	if u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("issuer URL %q: want https://host[/path] without query, fragment or user info", raw)
	}
	i := &Issuer{url: raw, host: strings.ToLower(u.Hostname()), path: strings.TrimSuffix(u.Path, "/"), now: now}
	i.jwksPath = i.path + "/keys"
	for _, o := range opts {
		o(i)
	}
	return i, nil
}

// URL is the issuer identifier exactly as tokens carry it in iss.
func (i *Issuer) URL() string { return i.url }

// JWKSURL is the published jwks_uri.
func (i *Issuer) JWKSURL() string {
	u, _ := url.Parse(i.url)
	u.Path = i.jwksPath
	return u.String()
}

// AddKey generates a key for alg ("RS256" or "ES256") and publishes it. The
// first key with a signer becomes the signing key.
func (i *Issuer) AddKey(alg string) (*Key, error) {
	s, err := generate(alg)
	if err != nil {
		return nil, err
	}
	return i.AddSigner(s)
}

// AddSigner publishes a key generated elsewhere (a cluster's SA signing key)
// and allows minting with it.
func (i *Issuer) AddSigner(s crypto.Signer) (*Key, error) {
	k, err := newKey(s.Public(), s)
	if err != nil {
		return nil, err
	}
	return k, i.add(k)
}

// AddPublicKey publishes a verification-only key.
func (i *Issuer) AddPublicKey(pub crypto.PublicKey) (*Key, error) {
	k, err := newKey(pub, nil)
	if err != nil {
		return nil, err
	}
	return k, i.add(k)
}

func (i *Issuer) add(k *Key) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, old := range i.keys {
		if old.ID == k.ID {
			if old.Signer == nil && k.Signer != nil {
				old.Signer = k.Signer
				if i.signing == "" {
					i.signing = k.ID
				}
			}
			return nil
		}
	}
	i.keys = append(i.keys, k)
	if i.signing == "" && k.Signer != nil {
		i.signing = k.ID
	}
	return nil
}

// RemoveKey stops publishing kid; tokens signed with it stop verifying.
func (i *Issuer) RemoveKey(kid string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	for n, k := range i.keys {
		if k.ID == kid {
			i.keys = append(i.keys[:n], i.keys[n+1:]...)
			if i.signing == kid {
				i.signing = ""
				for _, k := range i.keys {
					if k.Signer != nil {
						i.signing = k.ID
						break
					}
				}
			}
			return nil
		}
	}
	return fmt.Errorf("issuer %s: no key %q", i.url, kid)
}

// SetSigningKey makes kid the key Mint and Sign use.
func (i *Issuer) SetSigningKey(kid string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, k := range i.keys {
		if k.ID == kid {
			if k.Signer == nil {
				return fmt.Errorf("issuer %s: key %q is verification-only", i.url, kid)
			}
			i.signing = kid
			return nil
		}
	}
	return fmt.Errorf("issuer %s: no key %q", i.url, kid)
}

// Keys returns the published keys in the order they were added.
func (i *Issuer) Keys() []*Key {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return append([]*Key(nil), i.keys...)
}

// JWKS returns the published key set.
func (i *Issuer) JWKS() jose.JSONWebKeySet {
	i.mu.RLock()
	defer i.mu.RUnlock()
	ks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range i.keys {
		ks.Keys = append(ks.Keys, k.jwk())
	}
	return ks
}

func (i *Issuer) algorithms() []string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	set := map[string]bool{}
	for _, k := range i.keys {
		set[k.Algorithm] = true
	}
	if len(set) == 0 {
		set["RS256"] = true
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// ObjectRef names a bound object (pod, node, secret) in kubernetes.io.
type ObjectRef struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// TokenRequest mirrors the TokenRequest API inputs kube-apiserver uses for a
// projected service-account token.
type TokenRequest struct {
	Namespace         string
	ServiceAccount    string
	ServiceAccountUID string // Defaults to a random UID.
	Audiences         []string
	// ExpirationSeconds defaults to 3600; the TokenRequest API refuses < 600.
	ExpirationSeconds int64
	Pod               *ObjectRef
	Node              *ObjectRef
	Secret            *ObjectRef
	IssuedAt          time.Time // Defaults to the issuer clock.
}

// k8sClaims is the private claim kube-apiserver adds (pkg/serviceaccount).
type k8sClaims struct {
	Kubernetes kubernetesClaim `json:"kubernetes.io"`
}

type kubernetesClaim struct {
	Namespace      string     `json:"namespace,omitempty"`
	ServiceAccount ObjectRef  `json:"serviceaccount"`
	Pod            *ObjectRef `json:"pod,omitempty"`
	Secret         *ObjectRef `json:"secret,omitempty"`
	Node           *ObjectRef `json:"node,omitempty"`
}

// MintServiceAccountToken signs a token with the claims kube-apiserver puts
// in a projected service-account token: iss, sub
// system:serviceaccount:NS:SA, aud, exp, iat, nbf, jti and kubernetes.io.
func (i *Issuer) MintServiceAccountToken(req TokenRequest) (string, error) {
	if req.Namespace == "" || req.ServiceAccount == "" {
		return "", errors.New("mint: namespace and service account are required")
	}
	if len(req.Audiences) == 0 {
		return "", errors.New("mint: at least one audience is required")
	}
	exp := req.ExpirationSeconds
	if exp == 0 {
		exp = 3600
	}
	if exp < 600 {
		return "", fmt.Errorf("mint: expirationSeconds %d is less than the TokenRequest minimum 600", exp)
	}
	iat := req.IssuedAt
	if iat.IsZero() {
		iat = i.now()
	}
	uid := req.ServiceAccountUID
	if uid == "" {
		uid = newUID()
	}
	std := jwt.Claims{
		Issuer:    i.url,
		Subject:   "system:serviceaccount:" + req.Namespace + ":" + req.ServiceAccount,
		Audience:  jwt.Audience(req.Audiences),
		Expiry:    jwt.NewNumericDate(iat.Add(time.Duration(exp) * time.Second)),
		IssuedAt:  jwt.NewNumericDate(iat),
		NotBefore: jwt.NewNumericDate(iat),
		ID:        newUID(),
	}
	priv := k8sClaims{Kubernetes: kubernetesClaim{
		Namespace:      req.Namespace,
		ServiceAccount: ObjectRef{Name: req.ServiceAccount, UID: uid},
		Pod:            req.Pod, Secret: req.Secret, Node: req.Node,
	}}
	return i.Sign([]any{std, priv})
}

// SignOption adjusts the JOSE header of Sign, for crafting test tokens.
type SignOption func(*signOpts)

type signOpts struct {
	kid   *string
	extra map[jose.HeaderKey]any
	keyID string
}

// WithKid overrides the kid header (empty string omits it).
func WithKid(kid string) SignOption { return func(o *signOpts) { o.kid = &kid } }

// WithHeader adds a header field.
func WithHeader(name string, v any) SignOption {
	return func(o *signOpts) {
		if o.extra == nil {
			o.extra = map[jose.HeaderKey]any{}
		}
		o.extra[jose.HeaderKey(name)] = v
	}
}

// WithKey signs with the key kid instead of the signing key.
func WithKey(kid string) SignOption { return func(o *signOpts) { o.keyID = kid } }

// Sign signs arbitrary claims (a struct, a map, or a slice of them merged)
// with the issuer's signing key; header alg and kid as kube-apiserver sets them.
func (i *Issuer) Sign(claims any, opts ...SignOption) (string, error) {
	var o signOpts
	for _, f := range opts {
		f(&o)
	}
	i.mu.RLock()
	want := i.signing
	if o.keyID != "" {
		want = o.keyID
	}
	var key *Key
	for _, k := range i.keys {
		if k.ID == want && k.Signer != nil {
			key = k
		}
	}
	i.mu.RUnlock()
	if key == nil {
		return "", fmt.Errorf("issuer %s: %w", i.url, ErrNoSigningKey)
	}
	so := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{}}
	kid := key.ID
	if o.kid != nil {
		kid = *o.kid
	}
	if kid != "" {
		so.ExtraHeaders["kid"] = kid
	}
	for k, v := range o.extra {
		so.ExtraHeaders[k] = v
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key.Signer}, so)
	if err != nil {
		return "", fmt.Errorf("issuer %s: signer: %w", i.url, err)
	}
	b := jwt.Signed(signer)
	if parts, ok := claims.([]any); ok {
		for _, p := range parts {
			b = b.Claims(p)
		}
	} else {
		b = b.Claims(claims)
	}
	tok, err := b.Serialize()
	if err != nil {
		return "", fmt.Errorf("issuer %s: sign: %w", i.url, err)
	}
	return tok, nil
}

// newUID returns a random RFC 4122 version 4 UUID.
func newUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
