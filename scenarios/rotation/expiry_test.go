//go:build e2e

package rotation

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/scenarios/kit/labenv"
)

// sdkWindow is the credentials cache's ExpiryWindow: the SDK treats the
// session (sessionSeconds) as over 60 s after it was issued.
const sdkWindow = 14 * time.Minute

// tokenFile asks the cluster for a token of sa (TokenRequest, audience
// sts.amazonaws.com) and writes it where an SDK can read it.
func (e *env) tokenFile(ctx context.Context, t *testing.T, sa string, seconds int64, bound *authv1.BoundObjectReference) string {
	t.Helper()
	tr, err := e.eks.CS.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
		Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: &seconds, BoundObjectRef: bound}}, metav1.CreateOptions{})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(file, []byte(tr.Status.Token), 0o600))
	return file
}

// credentialsExpire: the SDK's 15-minute STS session is expired at the
// emulator by moving the clock 15 minutes for this role's sessions; the old
// credentials are refused with ExpiredToken, and the SDK, whose own view of
// the session ends 60 s after issue (its expiry window), re-assumes the role
// with the token file and goes on.
func (e *env) credentialsExpire(ctx context.Context, t *testing.T) {
	start := time.Now()
	role := rolePfx + "expiry"
	since := e.lab.LastDecisionID(ctx, t)
	file := e.tokenFile(ctx, t, "app", 3600, nil)
	provider := stscreds.NewWebIdentityRoleProvider(e.stsClient(nil), role, stscreds.IdentityTokenFile(file), func(o *stscreds.WebIdentityRoleOptions) {
		o.RoleSessionName, o.Duration = "rotation-expiry", sessionSeconds*time.Second
	})
	cache := aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = sdkWindow })
	app := e.stsClient(cache)

	_, err := app.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	first, err := cache.Retrieve(ctx)
	require.NoError(t, err)

	var moved struct {
		SessionsAged int `json:"sessionsAged"`
	}
	require.NoError(t, e.lab.Admin(ctx, "POST", "/_idlab/clock?"+url.Values{"advance": {"15m"}, "role": {role}}.Encode(), nil, &moved))
	require.GreaterOrEqual(t, moved.SessionsAged, 1)
	old := e.stsClient(credentials.NewStaticCredentialsProvider(first.AccessKeyID, first.SecretAccessKey, first.SessionToken))
	_, oldErr := old.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})

	// The SDK's own clock: the cached credentials are stale at first.Expires
	// (Expiration minus the window).
	select {
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	case <-time.After(time.Until(first.Expires) + time.Second):
	}
	out, err := app.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	second, rerr := cache.Retrieve(ctx)
	require.NoError(t, rerr)
	var assumed int
	for _, d := range e.lab.DecisionsSince(ctx, t, since, stsAction, role) {
		if d.Effect == "Allow" {
			assumed++
		}
	}
	var oldCode, oldMsg string
	var ae smithy.APIError
	if errAs(oldErr, &ae) {
		oldCode, oldMsg = ae.ErrorCode(), ae.ErrorMessage()
	}
	reason := fmt.Sprintf("old session refused: %s %q; the SDK re-assumed the role (%d AssumeRoleWithWebIdentity allowed) and signed with %s; took %s",
		oldCode, oldMsg, assumed, second.AccessKeyID, took(start))
	labenv.Row(t, labenv.Outcome{Suite: suiteName, Tier: labenv.Slow, Scenario: "STS credentials expire (role clock +15 min), the SDK refreshes", Mechanism: "IRSA (eks)",
		Expected: "allow", Observed: labenv.Observed(err == nil && second.AccessKeyID != first.AccessKeyID, errCode(err)), Reason: reason})
	t.Log(reason)

	require.Equal(t, "ExpiredToken", oldCode, "the first session must be expired at the emulator: %v", oldErr)
	require.Equal(t, "The security token included in the request is expired", oldMsg)
	require.NoError(t, err, "the SDK must refresh and go on")
	require.Equal(t, "arn:aws:sts::"+account+":assumed-role/rotation-expiry/rotation-expiry", aws.ToString(out.Arn))
	require.NotEqual(t, first.AccessKeyID, second.AccessKeyID, "new credentials")
	require.Equal(t, 2, assumed, "one AssumeRoleWithWebIdentity per session")
}
