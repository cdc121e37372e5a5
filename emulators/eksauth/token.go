package eksauth

import (
	"context"
	"errors"
	"slices"

	"github.com/idlab/idlab/internal/jwtverify"
)

// podToken is what a verified service-account token says about its pod.
type podToken struct {
	Namespace         string
	ServiceAccount    string
	ServiceAccountUID string
	PodName           string
	PodUID            string
}

// verifyToken checks a projected service-account token the way EKS Auth
// must: issued by the cluster's issuer, signed by one of its published keys,
// in date, for audience pods.eks.amazonaws.com, and bound to a pod.
func (h *Handler) verifyToken(ctx context.Context, c Cluster, raw string) (podToken, error) {
	tok, err := jwtverify.ParseUnverified(raw)
	if err != nil {
		return podToken{}, apiErr(CodeInvalidToken, "The service account token cannot be parsed.")
	}
	if tok.Claims.Issuer != c.IssuerURL {
		return podToken{}, apiErr(CodeInvalidToken, "The service account token was not issued by cluster %s.", c.Name)
	}
	v := jwtverify.Verifier{Keys: h.keys, Now: h.now}
	if err := v.VerifyToken(ctx, tok); err != nil {
		return podToken{}, tokenError(err)
	}
	if !slices.Contains(tok.Claims.Audience, Audience) {
		return podToken{}, apiErr(CodeInvalidToken, "The service account token does not have the audience %s.", Audience)
	}
	k8s, _ := tok.Claims.Raw["kubernetes.io"].(map[string]any)
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	obj := func(k string) map[string]any { o, _ := k8s[k].(map[string]any); return o }
	pt := podToken{
		Namespace:         str(k8s, "namespace"),
		ServiceAccount:    str(obj("serviceaccount"), "name"),
		ServiceAccountUID: str(obj("serviceaccount"), "uid"),
		PodName:           str(obj("pod"), "name"),
		PodUID:            str(obj("pod"), "uid"),
	}
	if pt.Namespace == "" || pt.ServiceAccount == "" || pt.ServiceAccountUID == "" {
		return podToken{}, apiErr(CodeInvalidToken, "The service account token has no kubernetes.io namespace and service account claims.")
	}
	if pt.PodName == "" || pt.PodUID == "" {
		return podToken{}, apiErr(CodeInvalidToken, "The service account token is not bound to a pod.")
	}
	if tok.Claims.Subject != "system:serviceaccount:"+pt.Namespace+":"+pt.ServiceAccount {
		return podToken{}, apiErr(CodeInvalidToken, "The service account token subject does not match its kubernetes.io claims.")
	}
	return pt, nil
}

// tokenError maps verification failures: expiry to ExpiredTokenException,
// an unreachable issuer to ServiceUnavailableException (a lab fault the
// agent should retry), everything else to InvalidTokenException.
func tokenError(err error) error {
	var e *jwtverify.Error
	if !errors.As(err, &e) {
		return apiErr(CodeInvalidToken, "The service account token is not valid.")
	}
	switch e.Code {
	case jwtverify.CodeExpired:
		return apiErr(CodeExpiredToken, "The service account token has expired.")
	case jwtverify.CodeKeyFetch:
		return apiErr(CodeServiceUnavailable, "The service account issuer's keys could not be fetched. Retry the request.")
	case jwtverify.CodeNotYetValid, jwtverify.CodeIssuedInFuture:
		return apiErr(CodeInvalidToken, "The service account token is not valid yet.")
	}
	return apiErr(CodeInvalidToken, "The service account token signature could not be verified.")
}
