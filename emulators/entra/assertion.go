package entra

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/idlab/idlab/internal/jwtverify"
)

// verifyAssertion checks a client assertion against the app's federated
// credentials and returns the one that matched. Matching runs on the
// unverified claims first (issuer, then subject, then audience, each exact
// and case-sensitive), so a token from a stranger is refused without
// fetching its issuer's keys; then the signature and times are checked with
// the keys from the issuer's OIDC discovery.
func (h *Handler) verifyAssertion(ctx context.Context, app App, raw string, now time.Time, d *decision) (FederatedCredential, *aadError) {
	tok, err := jwtverify.ParseUnverified(raw)
	if err != nil {
		return FederatedCredential{}, errMalformedAssertion()
	}
	c := tok.Claims
	d.Issuer, d.Subject, d.Audience = c.Issuer, c.Subject, c.Audience
	if c.Issuer == "" || c.Subject == "" || len(c.Audience) == 0 {
		return FederatedCredential{}, errMalformedAssertion()
	}
	fic, aerr, near := matchCredential(app.FederatedCredentials, c.Issuer, c.Subject, c.Audience)
	if aerr != nil {
		d.NearMiss = near
		return FederatedCredential{}, aerr
	}
	// The times are checked at now, the app's assertion clock (Handler
	// SetAssertionClock); the keys' cache keeps the lab clock.
	v := *h.verifier
	v.Now = func() time.Time { return now }
	if err := v.VerifyToken(ctx, tok); err != nil {
		return FederatedCredential{}, assertionError(err, tok, now)
	}
	return fic, nil
}

// matchCredential finds the federated credential for iss, sub and aud. A
// subject that only a case-insensitive comparison matches is refused with
// AADSTS7002138, as Entra does since its case-sensitive matching (August
// 2024; the message Azure/login#515 and #517 quote). With a refusal comes
// near, for the decision log only: the credential that missed by a
// trailing slash or letter case, which Entra's own message leaves unsaid.
func matchCredential(fics []FederatedCredential, iss, sub string, aud []string) (fic FederatedCredential, aerr *aadError, near string) {
	var byIssuer, bySubject []FederatedCredential
	for _, f := range fics {
		if f.Issuer == iss {
			byIssuer = append(byIssuer, f)
		}
	}
	if len(byIssuer) == 0 {
		return FederatedCredential{}, errNoIssuerMatch(iss), nearMiss(fics, "issuer", iss, func(f FederatedCredential) []string { return []string{f.Issuer} })
	}
	for _, f := range byIssuer {
		if f.Subject == sub {
			bySubject = append(bySubject, f)
		}
	}
	if len(bySubject) == 0 {
		near = nearMiss(byIssuer, "subject", sub, func(f FederatedCredential) []string { return []string{f.Subject} })
		for _, f := range byIssuer {
			if strings.EqualFold(f.Subject, sub) {
				return FederatedCredential{}, errSubjectCaseMismatch(sub), near
			}
		}
		return FederatedCredential{}, errNoSubjectMatch(sub), near
	}
	for _, f := range bySubject {
		for _, a := range aud {
			if slices.Contains(f.Audiences, a) {
				return f, nil, ""
			}
		}
	}
	for _, a := range aud {
		if near = nearMiss(bySubject, "audience", a, func(f FederatedCredential) []string { return f.Audiences }); near != "" {
			break
		}
	}
	return FederatedCredential{}, errNoAudienceMatch(strings.Join(aud, ",")), near
}

// nearMiss names the first credential whose field (issuer, subject or
// audience: the values values gives) differs from the assertion's value
// only by a trailing slash or letter case; "" when none does.
func nearMiss(fics []FederatedCredential, field, got string, values func(FederatedCredential) []string) string {
	for _, f := range fics {
		for _, v := range values(f) {
			how := ""
			switch {
			case v == got:
				continue
			case strings.TrimSuffix(v, "/") == strings.TrimSuffix(got, "/"):
				how = "only by a trailing slash"
			case strings.EqualFold(v, got):
				how = "only in letter case"
			default:
				continue
			}
			return fmt.Sprintf("federated credential %q has %s %q, which differs from the assertion's %q %s", f.Name, field, v, got, how)
		}
	}
	return ""
}

// assertionError maps a jwtverify failure to Entra's error for it.
func assertionError(err error, tok *jwtverify.Token, now time.Time) *aadError {
	var e *jwtverify.Error
	if !errors.As(err, &e) {
		return errIssuerUnreachable(tok.Claims.Issuer)
	}
	c := tok.Claims
	switch e.Code {
	case jwtverify.CodeExpired, jwtverify.CodeNotYetValid, jwtverify.CodeIssuedInFuture:
		return errTimeRange(now, firstTime(c.NotBefore, c.IssuedAt), c.Expiry)
	case jwtverify.CodeKeyFetch:
		return errIssuerUnreachable(c.Issuer)
	case jwtverify.CodeKeyNotFound:
		return errKeyNotFound(tok.Header.Kid, c.Issuer)
	case jwtverify.CodeBadSignature:
		return errBadSignature("The provided signature value did not match the expected signature value.")
	case jwtverify.CodeUnsupportedAlg, jwtverify.CodeInvalidKey, jwtverify.CodeUnsupportedCrit:
		return errBadSignature(e.Msg)
	}
	return errMalformedAssertion()
}

func firstTime(ts ...*time.Time) *time.Time {
	for _, t := range ts {
		if t != nil {
			return t
		}
	}
	return nil
}
