package gcpiam

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"time"
)

// Scopes and lifetimes of Google access tokens.
const (
	ScopeCloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
	ScopeIAM           = "https://www.googleapis.com/auth/iam"
	// DefaultTokenLifetime is what IAM Credentials and STS issue by default.
	DefaultTokenLifetime = time.Hour
	// MaxTokenLifetime is the longest token MintAccessToken issues (Google's
	// ceiling with the lifetime-extension org policy); the IAM Credentials
	// API itself allows DefaultTokenLifetime.
	MaxTokenLifetime = 12 * time.Hour
	// IDTokenLifetime is the lifetime of Google-signed ID tokens.
	IDTokenLifetime = time.Hour
)

// accessToken is an issued opaque token and what it stands for.
type accessToken struct {
	Email     string    `json:"email,omitempty"`    // service account tokens
	UniqueID  string    `json:"uniqueId,omitempty"` // service account tokens
	Subject   string    `json:"subject,omitempty"`  // federated tokens: the external sub
	Members   []string  `json:"members"`            // IAM identities, primary first
	Scopes    []string  `json:"scopes"`
	Issued    time.Time `json:"issued"`
	Expiry    time.Time `json:"expiry"`
	Federated bool      `json:"federated,omitempty"`
}

// TokenInfo is what a verified access token stands for.
type TokenInfo struct {
	Email    string // the service account ("" for federated tokens)
	UniqueID string // the service account's unique ID
	Scopes   []string
	Expiry   time.Time
	// Members are the IAM identities of the caller, primary first:
	// serviceAccount:EMAIL for service accounts; for federated tokens
	// serviceAccount:P.svc.id.goog[NS/KSA] (GKE) and/or
	// principal://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/POOL/subject/SUB
	// and principalSet://.../workloadIdentityPools/POOL/*.
	Members []string
	// Subject is the external token's sub for federated tokens.
	Subject   string
	Federated bool
}

// Member is the caller's primary IAM identity.
func (t *TokenInfo) Member() string {
	if len(t.Members) == 0 {
		return ""
	}
	return t.Members[0]
}

func newOpaqueToken(prefix string) string {
	var b [48]byte
	_, _ = rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// MintAccessToken issues an opaque "ya29." access token for a service
// account, as the metadata server or generateAccessToken would. Scopes
// default to cloud-platform, lifetime to an hour (at most MaxTokenLifetime).
func (h *Handler) MintAccessToken(ctx context.Context, email string, scopes []string, lifetime time.Duration) (string, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return "", time.Time{}, err
	}
	if lifetime == 0 {
		lifetime = DefaultTokenLifetime
	}
	if lifetime < 0 || lifetime > MaxTokenLifetime {
		return "", time.Time{}, fmt.Errorf("mint access token: lifetime %s: %w: want up to %s", lifetime, ErrInvalid, MaxTokenLifetime)
	}
	if len(scopes) == 0 {
		scopes = []string{ScopeCloudPlatform}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	sa := h.accountLocked(email)
	if sa == nil {
		return "", time.Time{}, fmt.Errorf("mint access token for %s: %w", email, ErrNotFound)
	}
	now := h.now()
	exp := now.Add(lifetime).Truncate(time.Second)
	tok := newOpaqueToken("ya29.c.")
	at := &accessToken{Email: sa.Email, UniqueID: sa.UniqueID, Members: []string{"serviceAccount:" + sa.Email},
		Scopes: slices.Clone(scopes), Issued: now, Expiry: exp}
	h.st.Tokens[tok] = at
	if err := h.saveTokenLocked(tok, at); err != nil {
		return "", time.Time{}, err
	}
	h.log.Info("access token issued", "principal", sa.Email, "expiry", exp.UTC().Format(time.RFC3339))
	return tok, exp, nil
}

// mintFederatedLocked issues the access token STS returns for an external
// identity.
func (h *Handler) mintFederatedLocked(subject string, members, scopes []string, lifetime time.Duration) (string, time.Time, error) {
	now := h.now()
	exp := now.Add(lifetime).Truncate(time.Second)
	tok := newOpaqueToken("ya29.d.")
	at := &accessToken{Subject: subject, Members: slices.Clone(members), Scopes: slices.Clone(scopes),
		Issued: now, Expiry: exp, Federated: true}
	h.st.Tokens[tok] = at
	if err := h.saveTokenLocked(tok, at); err != nil {
		return "", time.Time{}, err
	}
	h.log.Info("federated access token issued", "principal", members[0], "expiry", exp.UTC().Format(time.RFC3339))
	return tok, exp, nil
}

// VerifyAccessToken resolves a token this handler issued; unknown and
// expired tokens wrap ErrInvalidToken.
func (h *Handler) VerifyAccessToken(token string) (*TokenInfo, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	at, ok := h.st.Tokens[token]
	if !ok {
		return nil, fmt.Errorf("%w: unknown token", ErrInvalidToken)
	}
	if !h.now().Before(at.Expiry) {
		return nil, fmt.Errorf("%w: expired at %s", ErrInvalidToken, at.Expiry.UTC().Format(time.RFC3339))
	}
	return &TokenInfo{Email: at.Email, UniqueID: at.UniqueID, Scopes: slices.Clone(at.Scopes), Expiry: at.Expiry,
		Members: slices.Clone(at.Members), Subject: at.Subject, Federated: at.Federated}, nil
}

// RevokeAccessToken forgets a token.
func (h *Handler) RevokeAccessToken(token string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.st.Tokens[token]; !ok {
		return nil
	}
	delete(h.st.Tokens, token)
	return h.saveTokenLocked(token, nil)
}

// idClaims are the claims of a Google-signed service-account ID token; JSON
// sorts them as Google orders them (aud, azp, email, email_verified, exp,
// iat, iss, sub).
type idClaims struct {
	Aud           string `json:"aud"`
	Azp           string `json:"azp"`
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	Exp           int64  `json:"exp"`
	Iat           int64  `json:"iat"`
	Iss           string `json:"iss"`
	Sub           string `json:"sub"`
}

// MintIDToken signs an RS256 ID token from https://accounts.google.com for a
// service account, as generateIdToken and the metadata server's identity
// endpoint do: sub and azp are the unique ID; email and email_verified only
// with includeEmail (format=full).
func (h *Handler) MintIDToken(ctx context.Context, email, audience string, includeEmail bool) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if audience == "" {
		return "", fmt.Errorf("mint ID token: %w: audience is required", ErrInvalid)
	}
	h.mu.RLock()
	sa := h.accountLocked(email)
	signer := h.signer
	h.mu.RUnlock()
	if sa == nil {
		return "", fmt.Errorf("mint ID token for %s: %w", email, ErrNotFound)
	}
	now := h.now()
	c := idClaims{Aud: audience, Azp: sa.UniqueID, Exp: now.Add(IDTokenLifetime).Unix(), Iat: now.Unix(), Iss: Issuer, Sub: sa.UniqueID}
	if includeEmail {
		c.Email, c.EmailVerified = sa.Email, true
	}
	tok, err := signer.signJWT(c)
	if err != nil {
		return "", fmt.Errorf("mint ID token for %s: %w", email, err)
	}
	h.log.Info("ID token issued", "principal", sa.Email, "audience", audience)
	return tok, nil
}
