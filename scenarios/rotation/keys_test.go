//go:build e2e

package rotation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/scenarios/kit/labenv"
)

// msgNoKey is AWS STS's message when no published key verifies the token.
const msgNoKey = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"

func errAs(err error, target any) bool { return err != nil && errors.As(err, target) }

func errCode(err error) string {
	var ae smithy.APIError
	if errAs(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "ClientError"
	}
	return ""
}

// assume is one AssumeRoleWithWebIdentity from the host with aws-sdk-go-v2;
// it returns the request ID and the error.
func (e *env) assume(ctx context.Context, role, token string) (string, error) {
	out, err := e.stsClient(nil).AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(role), RoleSessionName: aws.String("rotation"), WebIdentityToken: aws.String(token)})
	if err != nil {
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			return re.ServiceRequestID(), err
		}
		return "", err
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	return id, nil
}

// keyIssuerReset makes the key-rotation issuer exist with no keys.
func (e *env) keyIssuerReset(ctx context.Context, t *testing.T) {
	t.Helper()
	var issuers []struct {
		URL  string   `json:"url"`
		Keys []string `json:"keys"`
	}
	require.NoError(t, e.lab.Admin(ctx, http.MethodGet, "/_idlab/oidc/issuers", nil, &issuers))
	for _, iss := range issuers {
		if iss.URL != keyIssuer {
			continue
		}
		for _, kid := range iss.Keys { // a rerun on the same lab
			require.NoError(t, e.lab.Admin(ctx, http.MethodDelete, "/_idlab/oidc/issuers/keys/"+kid+"?"+url.Values{"issuer": {keyIssuer}}.Encode(), nil, nil))
		}
		return
	}
	require.NoError(t, e.lab.Admin(ctx, http.MethodPost, "/_idlab/oidc/issuers", map[string]string{"url": keyIssuer}, nil))
}

// rotateKey publishes a new key that signs from now on and returns its kid.
func (e *env) rotateKey(ctx context.Context, t *testing.T) string {
	t.Helper()
	var out struct {
		Kid        string `json:"kid"`
		SigningKey string `json:"signingKey"`
	}
	require.NoError(t, e.lab.Admin(ctx, http.MethodPost, "/_idlab/oidc/issuers/keys?"+url.Values{"issuer": {keyIssuer}, "signing": {"true"}}.Encode(), nil, &out))
	require.Equal(t, out.Kid, out.SigningKey)
	return out.Kid
}

// mintKeyToken signs idlab-rotation/app's token with the issuer's signing key.
func (e *env) mintKeyToken(ctx context.Context, t *testing.T) string {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	require.NoError(t, e.lab.Admin(ctx, http.MethodPost, "/_idlab/oidc/token", map[string]any{"issuer": keyIssuer, "namespace": ns,
		"serviceAccount": "app", "audiences": []string{"sts.amazonaws.com"}, "expirationSeconds": 3600}, &out))
	return out.Token
}

// until calls f every step until it reports done or within passes; it
// returns how long that took.
func until(ctx context.Context, t *testing.T, within, step time.Duration, f func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !f() {
		if time.Since(start) > within {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(step):
		}
	}
	return time.Since(start)
}

// keyRotation: a new signing key is added; tokens of the old key keep
// working while both keys are published and are refused once the old key
// is removed and STS has refetched the JWKS (its key cache lives 5 minutes).
func (e *env) keyRotation(ctx context.Context, t *testing.T) {
	start := time.Now()
	role := rolePfx + "keys"
	e.keyIssuerReset(ctx, t)
	oldKid := e.rotateKey(ctx, t)
	oldTok := e.mintKeyToken(ctx, t)
	id, err := e.assume(ctx, role, oldTok)
	require.NoError(t, err, "old key's token before rotation")
	require.Equal(t, "Allow", e.decision(ctx, t, role, id).Effect)

	e.rotateKey(ctx, t)
	newTok := e.mintKeyToken(ctx, t)
	// STS refetches the JWKS for an unknown kid at most every 10 s.
	var newErr error
	until(ctx, t, 30*time.Second, 3*time.Second, func() bool { _, newErr = e.assume(ctx, role, newTok); return newErr == nil })
	require.NoError(t, newErr, "new key's token once STS has the new JWKS")
	id, err = e.assume(ctx, role, oldTok)
	require.NoError(t, err, "old key's token while both keys are published")
	require.Equal(t, "Allow", e.decision(ctx, t, role, id).Effect)

	require.NoError(t, e.lab.Admin(ctx, http.MethodDelete, "/_idlab/oidc/issuers/keys/"+oldKid+"?"+url.Values{"issuer": {keyIssuer}}.Encode(), nil, nil))
	removed := time.Now()
	var lastErr error
	var lastID string
	kept := until(ctx, t, 7*time.Minute, 15*time.Second, func() bool { lastID, lastErr = e.assume(ctx, role, oldTok); return lastErr != nil })
	_, newAfter := e.assume(ctx, role, newTok)

	var ae smithy.APIError
	var d labDecision
	if errAs(lastErr, &ae) && lastID != "" {
		d = e.decision(ctx, t, role, lastID)
	}
	reason := fmt.Sprintf("%s: %s; the old key's token kept working %s after the key was removed (STS's JWKS cache), took %s",
		d.Effect, d.Reason, kept.Round(time.Second), took(start))
	labenv.Row(t, labenv.Outcome{Suite: suiteName, Tier: labenv.Slow, Scenario: "signing key rotated, old key removed: old token refused", Mechanism: "IRSA (key-rotation issuer)",
		Expected: expected("InvalidIdentityToken"), Observed: labenv.Observed(lastErr == nil, errCode(lastErr)), Reason: reason})
	t.Logf("%s (removed at %s)", reason, removed.Format(time.TimeOnly))

	require.Error(t, lastErr, "the old key's token must be refused once the key is gone")
	require.ErrorAs(t, lastErr, &ae)
	require.Equal(t, "InvalidIdentityToken", ae.ErrorCode())
	require.Equal(t, msgNoKey, ae.ErrorMessage())
	require.Equal(t, "Rejected", d.Effect, d.Explanation)
	require.Contains(t, d.Reason, "InvalidIdentityToken: "+msgNoKey)
	require.NoError(t, newAfter, "the new key's token still works")
}
