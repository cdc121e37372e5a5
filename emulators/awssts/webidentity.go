package awssts

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/awsxml"
	"github.com/idlab/idlab/internal/jwtverify"
)

// googleIssuer is federated without an IAM OIDC provider, as AWS does.
const (
	googleIssuer   = "https://accounts.google.com"
	googleProvider = "accounts.google.com"
)

// Messages AWS STS returns for web identity failures.
const (
	msgNotAuthorizedWebIdentity = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
	msgIncorrectAudience        = "Incorrect token audience"
	msgCannotParse              = "Couldn't parse provided token"
	msgNoVerificationKey        = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"
	msgNotValidated             = "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request."
)

// tokenLeeway is the clock skew allowed on a web identity token's exp, nbf
// and iat: none (jwtverify reads a negative leeway as none). AWS publishes
// no figure, and its STS refuses a token 198 s past exp with
// ExpiredTokenException ("Token expired: current date/time 1624482533 must
// be before the expiration date/time1624482335",
// awslabs/aws-orbit-workbench#707), so the customary five minutes would let
// a caching client go on where AWS stops it.
const tokenLeeway = -1

type webIdentityResponse struct {
	XMLName xml.Name                `xml:"AssumeRoleWithWebIdentityResponse"`
	Xmlns   string                  `xml:"xmlns,attr"`
	Result  webIdentityResult       `xml:"AssumeRoleWithWebIdentityResult"`
	Meta    awsxml.ResponseMetadata `xml:"ResponseMetadata"`
}

type webIdentityResult struct {
	Credentials                 credentialsXML  `xml:"Credentials"`
	SubjectFromWebIdentityToken string          `xml:"SubjectFromWebIdentityToken"`
	AssumedRoleUser             assumedRoleUser `xml:"AssumedRoleUser"`
	Provider                    string          `xml:"Provider"`
	Audience                    string          `xml:"Audience"`
	SourceIdentity              string          `xml:"SourceIdentity,omitempty"`
}

func invalidToken(msg string) error { return awsxml.Errorf(400, "InvalidIdentityToken", "%s", msg) }

// tokenErrors are the codes of a web identity token refused before the trust
// policy is evaluated.
var tokenErrors = map[string]bool{"InvalidIdentityToken": true, "ExpiredTokenException": true, "IDPRejectedClaim": true, "IDPCommunicationError": true}

// recordTokenRejection puts a refused token in IAM's decision log beside the
// policy decisions, naming the subject and issuer the token claimed.
func (h *Handler) recordTokenRejection(ctx context.Context, p url.Values, reqID string, err error) {
	var ae *awsxml.Error
	if !errors.As(err, &ae) || !tokenErrors[ae.Code] {
		return
	}
	who := "unparsable web identity token"
	if tok, perr := jwtverify.ParseUnverified(p.Get("WebIdentityToken")); perr == nil {
		who = webIdentityName(tok)
	}
	h.iam.RecordRejection(ctx, who, "sts:AssumeRoleWithWebIdentity", p.Get("RoleArn"), ae.Code, ae.Message, reqID)
}

// webIdentityName names a token's claimed identity in the decision log.
func webIdentityName(tok *jwtverify.Token) string {
	return fmt.Sprintf("web identity %q of issuer %q", tok.Claims.Subject, tok.Claims.Issuer)
}

// validateWebIdentityToken checks the WebIdentityToken member against the
// constraints of STS's model (clientTokenType: length 4 to 20,000), with the
// messages STS gives. STS leaves the token's value out of them ("Value at
// 'webIdentityToken' failed to satisfy constraint: Member must have length
// greater than or equal to 4", as AWS answered an AWS SDK for Java user),
// and states one bound at a time, as Coral's validation does ("Member must
// have length less than or equal to 64" for roleSessionName).
func validateWebIdentityToken(p url.Values) error {
	const prefix = "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: "
	raw := p.Get("WebIdentityToken")
	switch {
	case !p.Has("WebIdentityToken"):
		return validation("1 validation error detected: Value null at 'webIdentityToken' failed to satisfy constraint: Member must not be null")
	case len(raw) < 4:
		return validation(prefix + "Member must have length greater than or equal to 4")
	case len(raw) > jwtverify.MaxTokenSize:
		return validation(prefix+"Member must have length less than or equal to %d", jwtverify.MaxTokenSize)
	}
	return nil
}

// assumeRoleWithWebIdentity verifies the token as AWS does, then the trust
// policy, then issues the session.
func (h *Handler) assumeRoleWithWebIdentity(ctx context.Context, p url.Values, reqID string) (any, error) {
	raw := p.Get("WebIdentityToken")
	if err := validateWebIdentityToken(p); err != nil {
		return nil, err
	}
	c, err := h.parseCommon(p, "AssumeRoleWithWebIdentity")
	if err != nil {
		return nil, err
	}
	tok, err := jwtverify.ParseUnverified(raw)
	if err != nil {
		return nil, invalidToken(msgCannotParse)
	}
	iss := tok.Claims.Issuer
	if iss == "" {
		return nil, invalidToken(msgCannotParse)
	}
	roleAccount := accountOf(c.roleARN)

	// The issuer must be a registered provider in the role's account (Google
	// is built in); the audience must be one of its client IDs.
	var principal awsiam.Principal
	var providerHost string
	var matchedAud string
	if iss == googleIssuer || iss == googleProvider {
		providerHost = googleProvider
		principal = awsiam.Principal{Type: awsiam.PrincipalWebIdentity, ARN: googleProvider, FederatedProvider: googleProvider}
		if len(tok.Claims.Audience) > 0 {
			matchedAud = tok.Claims.Audience[0]
		}
	} else {
		prov, err := h.iam.OIDCProvider(roleAccount, iss)
		if err != nil {
			return nil, invalidToken("No OpenIDConnect provider found in your account for " + iss)
		}
		auds := tok.Claims.Audience
		if len(auds) == 0 { // AWS falls back to azp when aud is absent
			if azp := tok.Claims.String("azp"); azp != "" {
				auds = []string{azp}
			}
		}
		for _, a := range auds {
			for _, id := range prov.ClientIDs {
				if a == id && matchedAud == "" {
					matchedAud = a
				}
			}
		}
		if matchedAud == "" {
			return nil, invalidToken(msgIncorrectAudience)
		}
		providerHost = prov.URL
		principal = awsiam.Principal{Type: awsiam.PrincipalWebIdentity, ARN: prov.ARN, FederatedProvider: prov.URL}
	}

	v := jwtverify.Verifier{Keys: h.keys, Now: h.now, Leeway: tokenLeeway}
	if err := v.VerifyToken(ctx, tok); err != nil {
		return nil, webIdentityError(err)
	}
	if tok.Claims.Subject == "" {
		return nil, invalidToken(msgCannotParse)
	}

	// Trust policy: the condition keys AWS derives from the token.
	cond := map[string][]string{
		providerHost + ":sub": {tok.Claims.Subject},
		providerHost + ":aud": {matchedAud},
	}
	if amr, ok := tok.Claims.Raw["amr"].([]any); ok {
		for _, a := range amr {
			if s, ok := a.(string); ok {
				cond[providerHost+":amr"] = append(cond[providerHost+":amr"], s)
			}
		}
	}
	if providerHost == googleProvider {
		// For Google, :aud is the azp (the client that asked for the token)
		// when present, and :oaud the original aud.
		if azp := tok.Claims.String("azp"); azp != "" {
			cond[googleProvider+":aud"] = []string{azp}
			cond[googleProvider+":oaud"] = tok.Claims.Audience
		}
		if email := tok.Claims.String("email"); email != "" {
			cond[googleProvider+":email"] = []string{email}
		}
	}
	// Session tags and source identity come from the token's
	// https://aws.amazon.com/tags and .../source_identity claims.
	attrs, err := tokenSessionAttrs(tok.Claims.Raw)
	if err != nil {
		return nil, err
	}
	attrs.condition(cond)
	if c.role == nil {
		h.iam.RecordRejection(ctx, webIdentityName(tok), "sts:AssumeRoleWithWebIdentity", c.roleARN, "AccessDenied", "the role does not exist", reqID)
		return nil, awsxml.Errorf(403, "AccessDenied", "%s", msgNotAuthorizedWebIdentity)
	}
	authorize := func(action string) bool {
		return h.iam.Authorize(ctx, awsiam.Request{
			Principal: principal, Action: action, Resource: c.role.ARN,
			ResourceAccount: c.role.Account, ResourcePolicy: c.role.TrustPolicy, ResourcePolicyName: "trust policy of " + c.role.ARN,
			Context: cond, RequestID: reqID,
		}).Allowed()
	}
	if !authorize("sts:AssumeRoleWithWebIdentity") {
		return nil, awsxml.Errorf(403, "AccessDenied", "%s", msgNotAuthorizedWebIdentity)
	}
	if len(attrs.tagKeys) > 0 && !authorize("sts:TagSession") {
		return nil, awsxml.Errorf(403, "AccessDenied", "Not authorized to perform sts:TagSession")
	}
	if attrs.sourceIdentity != "" && !authorize("sts:SetSourceIdentity") {
		return nil, awsxml.Errorf(403, "AccessDenied", "Not authorized to perform sts:SetSourceIdentity")
	}
	var tags map[string]string
	if len(attrs.tagKeys) > 0 {
		tags = attrs.tags
	}
	s, err := h.issue(c, awsiam.Principal{FederatedProvider: providerHost, Tags: tags, SourceIdentity: attrs.sourceIdentity})
	if err != nil {
		return nil, err
	}
	h.rememberTransitive(s.Credentials.AccessKeyID, attrs.transitive)
	return webIdentityResponse{Xmlns: Namespace, Meta: awsxml.ResponseMetadata{RequestID: reqID}, Result: webIdentityResult{
		Credentials:                 credsXML(s),
		SubjectFromWebIdentityToken: tok.Claims.Subject,
		AssumedRoleUser:             assumedRoleUser{AssumedRoleID: s.Principal.UserID, Arn: s.Principal.ARN},
		Provider:                    principal.ARN,
		Audience:                    matchedAud,
		SourceIdentity:              attrs.sourceIdentity,
	}}, nil
}

// webIdentityError maps verification failures to STS codes.
func webIdentityError(err error) error {
	var e *jwtverify.Error
	if !errors.As(err, &e) {
		return invalidToken(msgNotValidated)
	}
	switch e.Code {
	case jwtverify.CodeExpired:
		return awsxml.Errorf(400, "ExpiredTokenException", "Token expired: %s", e.Msg)
	case jwtverify.CodeKeyFetch:
		return awsxml.Errorf(400, "IDPCommunicationError", "%s", msgNoVerificationKey)
	case jwtverify.CodeKeyNotFound, jwtverify.CodeInvalidKey:
		return invalidToken(msgNoVerificationKey)
	case jwtverify.CodeNotYetValid, jwtverify.CodeIssuedInFuture:
		return awsxml.Errorf(403, "IDPRejectedClaim", "Token is not yet valid: %s", e.Msg)
	case jwtverify.CodeMalformed, jwtverify.CodeMissingClaim:
		return invalidToken(msgCannotParse)
	}
	return invalidToken(msgNotValidated)
}

func accountOf(roleARN string) string {
	if m := roleARNRe.FindStringSubmatch(roleARN); m != nil {
		return m[1]
	}
	parts := strings.Split(roleARN, ":")
	if len(parts) > 4 {
		return parts[4]
	}
	return ""
}
