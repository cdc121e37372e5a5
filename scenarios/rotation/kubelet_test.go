//go:build e2e

package rotation

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

// rotateCap is the probe's SECONDS: only a cap under RunWithin's 14
// minutes, since the probe ends on the event its row waits for (a second
// token traded and used, or the first refusal), or at the first token's exp
// + 2 min (rotate.go).
const rotateCap = "780"

// longProbe runs the probe in mode as a pod of sa, mutated by the real IRSA
// webhook, and returns its result and calls.
func (e *env) longProbe(ctx context.Context, t *testing.T, name, sa, role string, args ...string) (probe.Result, []probe.Call) {
	t.Helper()
	pod := podrun.WithArgs(podrun.PlainPod(name, sa, e.lab.ProbeImage), args...)
	e.waitForWebhook(ctx, t, pod, role, tokenSeconds)
	res, out, err := podrun.RunWithin(ctx, e.eks.CS, ns, pod, 14*time.Minute)
	require.NoError(t, err)
	calls, err := probe.ParseCalls(out)
	require.NoError(t, err)
	require.NotEmpty(t, calls, "the probe made no call: %s", out)
	return res, calls
}

// waitForWebhook dry-runs the pod until the webhook (whose service-account
// cache may lag a just-created SA) gives it role and a token of seconds,
// so the real pod is created mutated.
func (e *env) waitForWebhook(ctx context.Context, t *testing.T, pod *corev1.Pod, role string, seconds int64) {
	t.Helper()
	err := podrun.WaitForMutation(ctx, e.eks.CS, ns, pod, time.Minute, func(got *corev1.Pod) error {
		var exp int64
		for _, v := range got.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for _, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil && s.ServiceAccountToken.Audience == "sts.amazonaws.com" && s.ServiceAccountToken.ExpirationSeconds != nil {
					exp = *s.ServiceAccountToken.ExpirationSeconds
				}
			}
		}
		if arn := podrun.Env(got, "AWS_ROLE_ARN"); arn != role || exp != seconds {
			return fmt.Errorf("AWS_ROLE_ARN=%q expirationSeconds=%d, want %s and %d", arn, exp, role, seconds)
		}
		return nil
	})
	require.NoError(t, err, "the IRSA webhook did not mutate %s for %s with a %d s token", pod.Name, role, seconds)
}

// traded groups the probe's successful AssumeRoleWithWebIdentity calls by
// the token they presented, in order.
func traded(calls []probe.Call) (order []probe.TokenInfo, byToken map[string][]probe.Call) {
	byToken = map[string][]probe.Call{}
	for _, c := range calls {
		if c.Op != "AssumeRoleWithWebIdentity" || !c.OK || c.Token == nil {
			continue
		}
		if _, seen := byToken[c.Token.ID]; !seen {
			order = append(order, *c.Token)
		}
		byToken[c.Token.ID] = append(byToken[c.Token.ID], c)
	}
	return order, byToken
}

// kubeletRotation: the SDK keeps working across the kubelet's rotation of
// the projected token, trading the new token once it is in the file.
func (e *env) kubeletRotation(ctx context.Context, t *testing.T) {
	start := time.Now()
	role := rolePfx + "kubelet"
	res, calls := e.longProbe(ctx, t, "kubelet-rotation", "app", role, "rotate", rotateCap, "20")
	tokens, byToken := traded(calls)
	failed := 0
	for _, c := range calls {
		if !c.OK {
			failed++
		}
	}
	reason := fmt.Sprintf("%d calls, %d failed, %d tokens traded", len(calls), failed, len(tokens))
	if len(tokens) >= 2 {
		// Rotation time: the new token's iat against the old one's, and when
		// the probe first found it in the file.
		renewed := tokens[1].IssuedAt - tokens[0].IssuedAt
		var seen time.Time
		for _, c := range calls {
			if c.FileToken != nil && c.FileToken.ID == tokens[1].ID {
				seen = c.At
				break
			}
		}
		reason += fmt.Sprintf("; kubelet renewed the token %d s after iat (%d%% of %d s), the probe saw it in the file %d s after iat",
			renewed, renewed*100/tokenSeconds, tokenSeconds, seen.Unix()-tokens[0].IssuedAt)
	}
	reason += "; took " + took(start)
	labenv.Row(t, labenv.Outcome{Suite: suiteName, Tier: labenv.Slow, Scenario: "kubelet rotates the 600 s token, the SDK trades the new one", Mechanism: "IRSA webhook (eks)",
		Expected: "allow", Observed: labenv.Observed(res.OK && failed == 0 && len(tokens) >= 2, res.ErrorCode), Reason: reason})
	t.Log(reason)

	require.True(t, res.OK, "probe: %s: %s", res.ErrorCode, res.ErrorMessage)
	require.Zero(t, failed, "every call must succeed")
	require.GreaterOrEqual(t, len(tokens), 2, "the SDK must have traded the rotated token: %s", reason)
	old, fresh := tokens[0], tokens[1]
	require.EqualValues(t, tokenSeconds, old.Expiry-old.IssuedAt, "the webhook's 600 s token")
	// Renewed within 20% (+10 s jitter) of expiry and before it expired.
	require.GreaterOrEqual(t, fresh.IssuedAt-old.IssuedAt, int64(tokenSeconds*80/100-10))
	require.Less(t, fresh.IssuedAt, old.Expiry)
	for _, tok := range []probe.TokenInfo{old, fresh} {
		for _, c := range byToken[tok.ID] {
			d := e.decision(ctx, t, role, c.RequestID)
			require.Equal(t, "Allow", d.Effect, d.Explanation)
		}
	}
	last := calls[len(calls)-1]
	require.Equal(t, "GetCallerIdentity", last.Op)
	require.True(t, last.OK)
}

// expiredMessage is STS's message for an expired web identity token.
var expiredMessage = regexp.MustCompile(`^Token expired: current date/time (\d+) must be before the expiration date/time (\d+)$`)

// cachingSDK: an SDK given the token bytes once (not the file) keeps working
// until the token's exp, then STS refuses it with ExpiredTokenException.
func (e *env) cachingSDK(ctx context.Context, t *testing.T) {
	start := time.Now()
	role := rolePfx + "cached"
	res, calls := e.longProbe(ctx, t, "caching-sdk", "cached", role, "rotate-cached", rotateCap, "20")
	tokens, _ := traded(calls)
	var refused *probe.Call
	for i := range calls {
		if calls[i].Op == "AssumeRoleWithWebIdentity" && !calls[i].OK {
			refused = &calls[i]
			break
		}
	}
	require.NotNil(t, refused, "STS never refused the cached token (ran %s)", took(start))
	d := e.decision(ctx, t, role, refused.RequestID)
	reason := fmt.Sprintf("%s: %s; refused %d s after the token's exp, took %s", d.Effect, d.Reason, refused.At.Unix()-refused.Token.Expiry, took(start))
	labenv.Row(t, labenv.Outcome{Suite: suiteName, Tier: labenv.Slow, Scenario: "SDK that never re-reads the token file, after expiry (aws/aws-sdk-js-v3#2297)", Mechanism: "IRSA webhook (eks)",
		Expected: expected("ExpiredTokenException"), Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: reason})
	t.Log(reason)

	require.False(t, res.OK, "the caching SDK must fail after the token expires")
	require.Equal(t, "ExpiredTokenException", res.ErrorCode, res.ErrorMessage)
	require.Equal(t, "ExpiredTokenException", refused.ErrorCode)
	m := expiredMessage.FindStringSubmatch(refused.ErrorMessage)
	require.NotNil(t, m, refused.ErrorMessage)
	require.Equal(t, fmt.Sprint(refused.Token.Expiry), m[2])
	require.Len(t, tokens, 1, "the caching SDK only ever presents the first token")
	require.Equal(t, tokens[0].ID, refused.Token.ID)
	require.GreaterOrEqual(t, refused.At.Unix(), refused.Token.Expiry, "refused only once expired")
	require.Equal(t, "Rejected", d.Effect, d.Explanation)
	require.True(t, strings.HasPrefix(d.Reason, "ExpiredTokenException: Token expired"), d.Reason)
	// The file held a newer token all along; the SDK never read it.
	var fileTokens = map[string]bool{}
	for _, c := range calls {
		if c.FileToken != nil {
			fileTokens[c.FileToken.ID] = true
		}
	}
	require.Greater(t, len(fileTokens), 1, "the kubelet rotated the file while the SDK presented the old bytes")
}
