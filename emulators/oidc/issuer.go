package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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

	// What kube-apiserver's --api-audiences, --service-account-max-token-expiration
	// and --service-account-extend-token-expiration would say.
	apiAudiences     []string
	maxExpiration    int64
	extendExpiration bool

	mu      sync.RWMutex
	keys    []*Key
	signing string // kid of the key Mint uses

	minted atomic.Int64 // tokens MintServiceAccountToken issued
}

// IssuerOption configures AddIssuer.
type IssuerOption func(*Issuer)

// WithJWKSPath serves the JWKS at path below the issuer (e.g.
// "/openid/v1/jwks" as kube-apiserver does) instead of "/keys" (as EKS does).
func WithJWKSPath(path string) IssuerOption {
	return func(i *Issuer) { i.jwksPath = i.path + "/" + strings.TrimPrefix(path, "/") }
}

// WithAPIAudiences sets the audiences kube-apiserver's --api-audiences would
// hold: a TokenRequest without audiences gets them, and only tokens for them
// get the extended expiration (see WithExtendExpiration). Defaults to the
// issuer URL, as kube-apiserver defaults --api-audiences to
// --service-account-issuer.
func WithAPIAudiences(auds ...string) IssuerOption {
	return func(i *Issuer) { i.apiAudiences = append([]string(nil), auds...) }
}

// WithMaxTokenExpiration caps ExpirationSeconds like kube-apiserver's
// --service-account-max-token-expiration (0, the default, means no cap).
func WithMaxTokenExpiration(d time.Duration) IssuerOption {
	return func(i *Issuer) { i.maxExpiration = int64(d / time.Second) }
}

// WithExtendExpiration mirrors --service-account-extend-token-expiration
// (default true): a pod-bound token requested for exactly 3607 seconds (what
// kubelet asks for the kube-api-access volume) for the API audiences is
// valid for a year and carries kubernetes.io.warnafter at 3607 seconds.
func WithExtendExpiration(on bool) IssuerOption {
	return func(i *Issuer) { i.extendExpiration = on }
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
	i.apiAudiences = []string{raw}
	i.extendExpiration = true
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
// Like kube-apiserver's --service-account-signing-key-file it must be an
// *rsa.PrivateKey (RS256) or *ecdsa.PrivateKey (ES256/384/512 by curve).
// Adding a key already published as verification-only attaches the signer.
func (i *Issuer) AddSigner(s crypto.Signer) (*Key, error) {
	switch s.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey:
	default:
		return nil, fmt.Errorf("issuer %s: signing key is %T, want *rsa.PrivateKey or *ecdsa.PrivateKey", i.url, s)
	}
	k, err := newKey(s.Public(), s)
	if err != nil {
		return nil, err
	}
	return i.add(k), nil
}

// AddPublicKey publishes a verification-only key.
func (i *Issuer) AddPublicKey(pub crypto.PublicKey) (*Key, error) {
	k, err := newKey(pub, nil)
	if err != nil {
		return nil, err
	}
	return i.add(k), nil
}

// add publishes k, or returns the key already published with its kid.
func (i *Issuer) add(k *Key) *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	for n, old := range i.keys {
		if old.ID == k.ID {
			if old.Signer == nil && k.Signer != nil {
				// Keys are shared with callers: replace, never mutate.
				i.keys[n] = k
				if i.signing == "" {
					i.signing = k.ID
				}
				return k
			}
			return old
		}
	}
	i.keys = append(i.keys, k)
	if i.signing == "" && k.Signer != nil {
		i.signing = k.ID
	}
	return k
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

// SigningKeyID is the kid MintServiceAccountToken and Sign use ("" when the
// issuer has no private key).
func (i *Issuer) SigningKeyID() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.signing
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

// TokenRequest mirrors what kube-apiserver's TokenRequest API (the
// serviceaccounts/token subresource kubelet calls for projected volumes)
// takes to build a service-account token.
type TokenRequest struct {
	Namespace         string
	ServiceAccount    string
	ServiceAccountUID string // Defaults to a random UID.
	// Audiences defaults to the issuer's API audiences (WithAPIAudiences).
	Audiences []string
	// ExpirationSeconds defaults to 3600, as the TokenRequest API; less than
	// 600 or more than 2^32 is refused as the API refuses it.
	ExpirationSeconds int64
	// Pod or Secret is the object the token is bound to (not both). Node is
	// added beside Pod (kube-apiserver 1.30+ ServiceAccountTokenPodNodeInfo)
	// or alone for a node-bound token (ServiceAccountTokenNodeBinding).
	Pod      *ObjectRef
	Node     *ObjectRef
	Secret   *ObjectRef
	IssuedAt time.Time // Defaults to the issuer clock.
}

// Constants of kube-apiserver's token REST storage (pkg/serviceaccount).
const (
	// MinExpirationSeconds is the TokenRequest API minimum (10 minutes).
	MinExpirationSeconds = 600
	// DefaultExpirationSeconds is the TokenRequest API default.
	DefaultExpirationSeconds = 3600
	// WarnOnlyExpirationSeconds is what kubelet requests for the
	// kube-api-access projected token; it triggers the extended expiration.
	WarnOnlyExpirationSeconds = 60*60 + 7
	// ExtendedExpirationSeconds is the extended lifetime (one year).
	ExtendedExpirationSeconds = 24 * 365 * 60 * 60
)

// ErrInvalidTokenRequest is wrapped by MintServiceAccountToken for requests
// kube-apiserver would refuse.
var ErrInvalidTokenRequest = errors.New("invalid token request")

// registeredClaims are the JWT claims as kube-apiserver's go-jose v2
// jwt.Claims writes them: aud is always an array (go-jose v4's jwt.Audience
// would write a single audience as a bare string, which kube-apiserver
// never does).
type registeredClaims struct {
	Issuer    string           `json:"iss,omitempty"`
	Subject   string           `json:"sub,omitempty"`
	Audience  []string         `json:"aud,omitempty"`
	Expiry    *jwt.NumericDate `json:"exp,omitempty"`
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"`
	IssuedAt  *jwt.NumericDate `json:"iat,omitempty"`
	ID        string           `json:"jti,omitempty"`
}

// k8sClaims is the private claim kube-apiserver adds (pkg/serviceaccount/claims.go).
type k8sClaims struct {
	Kubernetes kubernetesClaim `json:"kubernetes.io,omitempty"`
}

type kubernetesClaim struct {
	Namespace      string           `json:"namespace,omitempty"`
	ServiceAccount ObjectRef        `json:"serviceaccount,omitempty"`
	Pod            *ObjectRef       `json:"pod,omitempty"`
	Secret         *ObjectRef       `json:"secret,omitempty"`
	Node           *ObjectRef       `json:"node,omitempty"`
	WarnAfter      *jwt.NumericDate `json:"warnafter,omitempty"`
}

// MintServiceAccountToken signs a token with exactly the claims
// kube-apiserver puts in a service-account token from the TokenRequest API:
// aud (array), exp, iat, iss, jti (UUID), kubernetes.io {namespace,
// serviceaccount, pod|secret, node, warnafter}, nbf (= iat) and sub
// system:serviceaccount:NS:SA; header alg and kid only.
func (i *Issuer) MintServiceAccountToken(req TokenRequest) (string, error) {
	if req.Namespace == "" || req.ServiceAccount == "" {
		return "", fmt.Errorf("mint: %w: namespace and service account are required", ErrInvalidTokenRequest)
	}
	auds := req.Audiences
	if len(auds) == 0 {
		auds = i.apiAudiences
	}
	exp := req.ExpirationSeconds
	if exp == 0 {
		exp = DefaultExpirationSeconds
	}
	if exp < MinExpirationSeconds {
		return "", fmt.Errorf("mint: %w: spec.expirationSeconds: Invalid value: %d: may not specify a duration less than 10 minutes (600 seconds)", ErrInvalidTokenRequest, exp)
	}
	if exp > 1<<32 {
		return "", fmt.Errorf("mint: %w: spec.expirationSeconds: Invalid value: %d: may not specify a duration larger than 2^32 seconds", ErrInvalidTokenRequest, exp)
	}
	if req.Secret != nil && (req.Pod != nil || req.Node != nil) {
		return "", fmt.Errorf("mint: %w: token can only be bound to one object type", ErrInvalidTokenRequest)
	}
	if i.maxExpiration > 0 && exp > i.maxExpiration {
		exp = i.maxExpiration
	}
	var warnAfter int64
	if i.extendExpiration && req.Pod != nil && exp == WarnOnlyExpirationSeconds && subset(auds, i.apiAudiences) {
		warnAfter, exp = exp, ExtendedExpirationSeconds
	}
	iat := req.IssuedAt
	if iat.IsZero() {
		iat = i.now()
	}
	uid := req.ServiceAccountUID
	if uid == "" {
		uid = newUID()
	}
	std := registeredClaims{
		Issuer:    i.url,
		Subject:   "system:serviceaccount:" + req.Namespace + ":" + req.ServiceAccount,
		Audience:  auds,
		Expiry:    jwt.NewNumericDate(iat.Add(time.Duration(exp) * time.Second)),
		IssuedAt:  jwt.NewNumericDate(iat),
		NotBefore: jwt.NewNumericDate(iat),
		ID:        newUID(),
	}
	pc := kubernetesClaim{
		Namespace:      req.Namespace,
		ServiceAccount: ObjectRef{Name: req.ServiceAccount, UID: uid},
	}
	switch {
	case req.Pod != nil:
		pc.Pod = &ObjectRef{Name: req.Pod.Name, UID: req.Pod.UID}
		if req.Node != nil {
			pc.Node = &ObjectRef{Name: req.Node.Name, UID: req.Node.UID}
		}
	case req.Secret != nil:
		pc.Secret = &ObjectRef{Name: req.Secret.Name, UID: req.Secret.UID}
	case req.Node != nil:
		pc.Node = &ObjectRef{Name: req.Node.Name, UID: req.Node.UID}
	}
	if warnAfter != 0 {
		pc.WarnAfter = jwt.NewNumericDate(iat.Add(time.Duration(warnAfter) * time.Second))
	}
	// Merged like kube-apiserver's GenerateToken: private claims, then the
	// registered ones; go-jose writes the merged object with sorted keys.
	tok, err := i.Sign([]any{k8sClaims{Kubernetes: pc}, std})
	if err == nil {
		i.minted.Add(1)
	}
	return tok, err
}

// TokensMinted counts the tokens MintServiceAccountToken has issued, so the
// lab can show none was minted behind its back.
func (i *Issuer) TokensMinted() int64 { return i.minted.Load() }

// subset reports whether every element of a is in b.
func subset(a, b []string) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// SignOption adjusts the JOSE header of Sign, for crafting test tokens.
type SignOption func(*signOpts)

type signOpts struct {
	kid   *string
	alg   string
	extra map[jose.HeaderKey]any
	keyID string
}

// WithAlg writes alg in the header and signs accordingly with the key, to
// craft tokens a verifier must refuse or handle: another hash or padding for
// the key (RS384, PS256, ES256 with an RSA key fails), "none" (empty
// signature), or HS256/HS384/HS512 keyed with the PKIX DER of the public key
// (the algorithm-confusion attack).
func WithAlg(alg string) SignOption { return func(o *signOpts) { o.alg = alg } }

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
	kid := key.ID
	if o.kid != nil {
		kid = *o.kid
	}
	if o.alg != "" {
		return i.craft(key, kid, o, claims)
	}
	so := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{}}
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

// craft builds a compact JWS by hand for WithAlg.
func (i *Issuer) craft(key *Key, kid string, o signOpts, claims any) (string, error) {
	hdr := map[string]any{}
	for k, v := range o.extra {
		hdr[string(k)] = v
	}
	hdr["alg"] = o.alg
	if kid != "" {
		hdr["kid"] = kid
	}
	hb, err := json.Marshal(hdr)
	if err != nil {
		return "", fmt.Errorf("issuer %s: header: %w", i.url, err)
	}
	merged := map[string]any{}
	parts, ok := claims.([]any)
	if !ok {
		parts = []any{claims}
	}
	for _, p := range parts {
		b, err := json.Marshal(p)
		if err != nil {
			return "", fmt.Errorf("issuer %s: claims: %w", i.url, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return "", fmt.Errorf("issuer %s: claims are not a JSON object: %w", i.url, err)
		}
		for k, v := range m {
			merged[k] = v
		}
	}
	pb, err := json.Marshal(merged)
	if err != nil {
		return "", fmt.Errorf("issuer %s: claims: %w", i.url, err)
	}
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(pb)
	sig, err := craftSignature(key, o.alg, []byte(input))
	if err != nil {
		return "", fmt.Errorf("issuer %s: sign %s: %w", i.url, o.alg, err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func craftSignature(key *Key, alg string, input []byte) ([]byte, error) {
	if alg == "none" {
		return nil, nil
	}
	if len(alg) != 5 {
		return nil, fmt.Errorf("unsupported algorithm %q", alg)
	}
	var h crypto.Hash
	switch alg[2:] {
	case "256":
		h = crypto.SHA256
	case "384":
		h = crypto.SHA384
	case "512":
		h = crypto.SHA512
	default:
		return nil, fmt.Errorf("unsupported algorithm %q", alg)
	}
	if alg[:2] == "HS" {
		der, err := x509.MarshalPKIXPublicKey(key.Public)
		if err != nil {
			return nil, err
		}
		m := hmac.New(h.New, der)
		m.Write(input)
		return m.Sum(nil), nil
	}
	d := h.New()
	d.Write(input)
	digest := d.Sum(nil)
	switch alg[:2] {
	case "RS":
		return key.Signer.Sign(rand.Reader, digest, h)
	case "PS":
		return key.Signer.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
	case "ES":
		der, err := key.Signer.Sign(rand.Reader, digest, h)
		if err != nil {
			return nil, err
		}
		ec, ok := key.Public.(*ecdsa.PublicKey)
		if !ok {
			return der, nil // an RSA signature under an ES header: garbage, as intended
		}
		var sig struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &sig); err != nil {
			return nil, err
		}
		size := (ec.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		sig.R.FillBytes(out[:size])
		sig.S.FillBytes(out[size:])
		return out, nil
	}
	return nil, fmt.Errorf("unsupported algorithm %q", alg)
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
