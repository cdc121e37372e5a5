package gkemetadata

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// accessToken is the caller's token for scopes: the GSA's (STS exchange,
// then generateAccessToken) when its KSA is annotated, else the federated
// token itself (GKE's Workload Identity Federation without
// impersonation), cached until refreshMargin before expiry.
func (h *Handler) accessToken(ctx context.Context, c *caller, scopes []string) (string, time.Time, *mdError) {
	if len(scopes) == 0 {
		scopes = defaultScopes
	}
	if c.Node {
		return h.nodeToken(ctx)
	}
	now := h.opts.Now()
	key := c.cacheID() + "|access|" + strings.Join(scopes, " ")
	if t, ok := h.cache.get(key, now); ok {
		return t.token, t.expiry, nil
	}
	fedScopes := scopes
	if c.GSA != "" {
		fedScopes = []string{scopeCloudPlatform}
	}
	fed, exp, err := h.federated(ctx, c, fedScopes)
	if err != nil {
		return "", time.Time{}, err
	}
	tok := fed
	if c.GSA != "" {
		var gerr error
		tok, exp, gerr = h.generateAccessToken(ctx, fed, c.GSA, scopes)
		if gerr != nil {
			return "", time.Time{}, iamFailure("access token", gerr)
		}
	}
	h.cache.put(key, tok, exp, now)
	return tok, exp, nil
}

// federated is the caller's STS token for scopes, cached like the others.
func (h *Handler) federated(ctx context.Context, c *caller, scopes []string) (string, time.Time, *mdError) {
	now := h.opts.Now()
	key := c.cacheID() + "|federated|" + strings.Join(scopes, " ")
	if t, ok := h.cache.get(key, now); ok {
		return t.token, t.expiry, nil
	}
	tok, exp, err := h.federatedToken(ctx, c, scopes)
	if err != nil {
		var ge *googleError
		if errors.As(err, &ge) {
			return "", time.Time{}, &mdError{Status: http.StatusInternalServerError,
				Body:   fmt.Sprintf("Unable to exchange the Kubernetes service account token; STS returned %s: %s\n", ge.Status, ge.Message),
				Reason: err.Error()}
		}
		return "", time.Time{}, internalError(err.Error())
	}
	h.cache.put(key, tok, exp, now)
	return tok, exp, nil
}

// idToken is an ID token of the caller's GSA for audience (email claims
// with full), cached until refreshMargin before its exp.
func (h *Handler) idToken(ctx context.Context, c *caller, audience string, full bool) (string, *mdError) {
	if c.Node {
		return "", &mdError{Status: http.StatusNotFound, Body: "The node's service account has no identity tokens in this lab.\n", Reason: "node identity tokens not supported"}
	}
	if c.GSA == "" {
		ns, name, _ := strings.Cut(c.KSA, "/")
		return "", &mdError{Status: http.StatusNotFound, Body: fmt.Sprintf(msgNoGSAForIdentity, ns, name), Reason: "KSA not annotated with " + AnnotationGSA}
	}
	now := h.opts.Now()
	key := fmt.Sprintf("%s|id|%t|%s", c.cacheID(), full, audience)
	if t, ok := h.cache.get(key, now); ok {
		return t.token, nil
	}
	fed, _, merr := h.federated(ctx, c, []string{scopeCloudPlatform})
	if merr != nil {
		return "", merr
	}
	tok, err := h.generateIDToken(ctx, fed, c.GSA, audience, full)
	if err != nil {
		return "", iamFailure("ID token", err)
	}
	if exp := jwtExpiry(tok); !exp.IsZero() {
		h.cache.put(key, tok, exp, now)
	}
	return tok, nil
}

// nodeToken is the node's own token (hostNetwork callers).
func (h *Handler) nodeToken(ctx context.Context) (string, time.Time, *mdError) {
	if h.opts.NodeToken == nil && h.opts.NodeKSA != "" {
		key := "node|" + h.opts.NodeKSA + "|" + h.opts.NodeServiceAccount
		now := h.opts.Now()
		if t, ok := h.cache.get(key, now); ok {
			return t.token, t.expiry, nil
		}
		fed, _, err := h.federatedToken(ctx, &caller{KSA: h.opts.NodeKSA}, defaultScopes)
		if err != nil {
			return "", time.Time{}, iamFailure("access token", err)
		}
		tok, exp, err := h.generateAccessToken(ctx, fed, h.opts.NodeServiceAccount, defaultScopes)
		if err != nil {
			return "", time.Time{}, iamFailure("access token", err)
		}
		h.cache.put(key, tok, exp, now)
		return tok, exp, nil
	}
	if h.opts.NodeToken == nil {
		return "", time.Time{}, &mdError{Status: http.StatusNotFound, Body: "The node's service account has no token source in this lab.\n", Reason: "Options.NodeToken is nil"}
	}
	tok, exp, err := h.opts.NodeToken(ctx)
	if err != nil {
		return "", time.Time{}, internalError(fmt.Sprintf("node token: %v", err))
	}
	return tok, exp, nil
}

// iamFailure is GKE's answer when IAM Credentials refuses: IAM's status
// and message, then the Workload Identity hint, e.g. 403 "Unable to
// generate access token; IAM returned 403 Forbidden: Permission
// 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not
// exist).\nThis error could be caused by a missing IAM policy binding ...".
func iamFailure(what string, err error) *mdError {
	var ge *googleError
	if !errors.As(err, &ge) {
		return internalError(fmt.Sprintf("Unable to generate %s: %v", what, err))
	}
	status := ge.Code
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	return &mdError{Status: status,
		Body:   fmt.Sprintf("Unable to generate %s; IAM returned %s: %s\n", what, ge.Status, ge.Message) + msgWorkloadIdentityDoc,
		Reason: err.Error()}
}
