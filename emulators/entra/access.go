package entra

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/idlab/idlab/internal/jwtverify"
)

// accessClaims are the claims of an app-only access token; v1 and v2 tokens
// differ in iss, appid/appidacr vs azp/azpacr and ver.
type accessClaims struct {
	Audience string           `json:"aud"`
	Issuer   string           `json:"iss"`
	IssuedAt *jwt.NumericDate `json:"iat"`
	NotBefor *jwt.NumericDate `json:"nbf"`
	Expiry   *jwt.NumericDate `json:"exp"`
	AIO      string           `json:"aio"`
	AppID    string           `json:"appid,omitempty"`
	AppIDACR string           `json:"appidacr,omitempty"`
	AZP      string           `json:"azp,omitempty"`
	AZPACR   string           `json:"azpacr,omitempty"`
	IDP      string           `json:"idp"`
	OID      string           `json:"oid"`
	RH       string           `json:"rh"`
	Roles    []string         `json:"roles,omitempty"`
	Sub      string           `json:"sub"`
	TID      string           `json:"tid"`
	UTI      string           `json:"uti"`
	Ver      string           `json:"ver"`
	IDType   string           `json:"idtyp"`
	// MIRID is the managed identity's resource ID, in its tokens only.
	MIRID string `json:"xms_mirid,omitempty"`
}

// mintAccessToken signs an app-only access token for app on res.
func (h *Handler) mintAccessToken(t *tenant, app App, res resource, roles []string, now time.Time) (string, error) {
	return h.mint(t, app, res, roles, now, AccessTokenLifetime)
}

// mint signs an app-only access token valid for lifetime; a managed
// identity's carries xms_mirid, its resource ID.
func (h *Handler) mint(t *tenant, app App, res resource, roles []string, now time.Time, lifetime time.Duration) (string, error) {
	c := accessClaims{
		Audience: res.aud,
		IssuedAt: jwt.NewNumericDate(now),
		NotBefor: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(lifetime)),
		MIRID:    app.ResourceID(),
		AIO:      newOpaque(),
		IDP:      issuerV1(t.ID),
		OID:      app.ObjectID(),
		RH:       newOpaque(),
		Roles:    roles,
		Sub:      app.ObjectID(),
		TID:      t.ID,
		UTI:      newOpaque(),
		IDType:   "app",
	}
	if res.v2 {
		c.Issuer, c.AZP, c.AZPACR, c.Ver = issuerV2(t.ID), app.ClientID, "2", "2.0"
	} else {
		c.Issuer, c.AppID, c.AppIDACR, c.Ver = issuerV1(t.ID), app.ClientID, "2", "1.0"
	}
	so := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", t.key.kid).WithHeader("x5t", t.key.kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: t.key.key}, so)
	if err != nil {
		return "", fmt.Errorf("signer: %w", err)
	}
	return jwt.Signed(signer).Claims(c).Serialize()
}

// newOpaque returns an opaque base64url value like Entra's aio, rh and uti.
func newOpaque() string { return newUUID()[:8] + newUUID()[24:] }

// ErrInvalidToken is wrapped by VerifyAccessToken for every refused token;
// ErrTokenExpired additionally marks expired ones (a resource answers
// InvalidAuthenticationInfo / "token expired" for those).
var (
	ErrInvalidToken = errors.New("invalid access token")
	ErrTokenExpired = errors.New("access token expired")
)

// Claims are the verified claims of an access token.
type Claims struct {
	Version  string // "1.0" or "2.0"
	Issuer   string
	Audience string
	TenantID string
	// AppID is appid (v1) or azp (v2): the client the token was issued to.
	AppID     string
	ObjectID  string
	Subject   string
	Roles     []string
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
	Raw       map[string]any
}

// HasRole reports whether the token carries app role r.
func (c *Claims) HasRole(r string) bool { return slices.Contains(c.Roles, r) }

// VerifyAccessToken checks an access token this handler issued, for
// resource emulators: RS256 signature with the tenant's key, iss matching
// tid (v1 or v2 form), exp/nbf/iat with jwtverify's 5 minute leeway. The
// caller checks aud and roles against the resource asked for.
func (h *Handler) VerifyAccessToken(token string) (*Claims, error) {
	tok, err := jwtverify.ParseUnverified(token)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	tid := tok.Claims.String("tid")
	t, ok := h.tenantByID(tid)
	if !ok {
		return nil, fmt.Errorf("%w: unknown tenant %q", ErrInvalidToken, tid)
	}
	ver := tok.Claims.String("ver")
	want := map[string]string{"1.0": issuerV1(tid), "2.0": issuerV2(tid)}[ver]
	if want == "" || tok.Claims.Issuer != want {
		return nil, fmt.Errorf("%w: issuer %q is not tenant %q's for version %q", ErrInvalidToken, tok.Claims.Issuer, tid, ver)
	}
	v := jwtverify.Verifier{
		Keys:       jwtverify.StaticKeys{want: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{t.key.jwk()}}},
		Now:        h.now,
		Algorithms: []string{"RS256"},
	}
	if err := v.VerifyToken(context.Background(), tok); err != nil {
		var e *jwtverify.Error
		if errors.As(err, &e) && e.Code == jwtverify.CodeExpired {
			return nil, fmt.Errorf("%w: %w: %w", ErrInvalidToken, ErrTokenExpired, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	c := &Claims{
		Version: ver, Issuer: tok.Claims.Issuer, TenantID: tid,
		ObjectID: tok.Claims.String("oid"), Subject: tok.Claims.Subject, Raw: tok.Claims.Raw,
	}
	if len(tok.Claims.Audience) == 1 {
		c.Audience = tok.Claims.Audience[0]
	}
	if ver == "2.0" {
		c.AppID = tok.Claims.String("azp")
	} else {
		c.AppID = tok.Claims.String("appid")
	}
	if rs, ok := tok.Claims.Raw["roles"].([]any); ok {
		for _, r := range rs {
			if s, ok := r.(string); ok {
				c.Roles = append(c.Roles, s)
			}
		}
	}
	for dst, src := range map[*time.Time]*time.Time{&c.IssuedAt: tok.Claims.IssuedAt, &c.NotBefore: tok.Claims.NotBefore, &c.Expiry: tok.Claims.Expiry} {
		if src != nil {
			*dst = *src
		}
	}
	return c, nil
}
