//go:build e2e

package rotation

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/pyprobe"
)

// Python loop: a call every pyInterval until pyCallsAfterRenewal calls have
// succeeded after the kubelet's renewal of the 600 s token (493-548 s after
// iat in earlier runs) was seen in the file, or the first token is 30 s past
// its exp (the loop's own bound).
const (
	pyInterval          = 15 * time.Second
	pyCallsAfterRenewal = 3
)

// pyRotation returns the row of Debian's client (pyprobe.Boto3 or
// pyprobe.AWSCLI) calling sts get-caller-identity across the kubelet's
// rotation of its 600 s IRSA token: every call must succeed, and the loop
// ends once pyCallsAfterRenewal calls were made with the new token in the
// file, however late the kubelet wrote it. What the client
// did with the new token is measured, not assumed: boto3 keeps one session,
// whose credentials (STS's default 1 h) outlive the run, so it need not
// read the file again; awscli is a new process per call, as a cron job
// runs it, and the row counts how often it went to STS.
func (e *env) pyRotation(client string) func(context.Context, *testing.T) {
	return func(ctx context.Context, t *testing.T) {
		start := time.Now()
		sa := "py-" + client
		role := rolePfx + sa
		since := e.lab.LastDecisionID(ctx, t)
		pod := pyprobe.Use(podrun.PlainPod(client+"-rotation", sa, e.lab.PyClientImage), client, pyprobe.UntilRenewedArgs(pyInterval, pyCallsAfterRenewal)...)
		e.waitForWebhook(ctx, t, pod, role, tokenSeconds)
		_, out, err := podrun.RunWithin(ctx, e.eks.CS, ns, pod, 14*time.Minute)
		require.NoError(t, err)
		calls, sum, err := pyprobe.ParseLoop(out)
		require.NoError(t, err, out)
		require.NotEmpty(t, calls)

		// The tokens the file held, in order, and when the loop first saw
		// each one.
		type seenToken struct {
			sha      string
			iat, exp int64
			elapsed  float64
		}
		var tokens []seenToken
		for _, c := range calls {
			if c.TokenSha256 == "" {
				continue
			}
			if len(tokens) == 0 || tokens[len(tokens)-1].sha != c.TokenSha256 {
				tokens = append(tokens, seenToken{sha: c.TokenSha256, iat: c.TokenIat, exp: c.TokenExp, elapsed: c.Elapsed})
			}
		}
		ds := e.lab.DecisionsSince(ctx, t, since, stsAction, role)
		allowed := 0
		for _, d := range ds {
			if d.Effect == "Allow" {
				allowed++
			}
		}
		reason := fmt.Sprintf("%s; %d distinct token files; loop ended: %s", sum.Output, len(tokens), sum.End)
		if len(tokens) >= 2 {
			old, fresh := tokens[0], tokens[1]
			reason += fmt.Sprintf("; kubelet renewed the token %d s after iat (%d%% of %d s), the loop first read it at call %d (%.0f s into the loop) and made %d successful calls after that one",
				fresh.iat-old.iat, (fresh.iat-old.iat)*100/tokenSeconds, tokenSeconds, sum.RenewedSeq, sum.RenewedElapsed, sum.CallsAfterRenewal)
		}
		reason += fmt.Sprintf("; %d AssumeRoleWithWebIdentity allowed (%s)", allowed, pyClientDid(client, sum.AccessKeys, allowed, len(calls)))
		reason += "; took " + took(start)
		renewedAndUsed := sum.End == pyprobe.EndRenewed && len(tokens) >= 2
		labenv.Row(t, labenv.Outcome{Suite: suiteName, Tier: labenv.Slow, Scenario: "kubelet rotates the 600 s token under a long-running Python client", Mechanism: "IRSA webhook (eks, " + client + ")",
			Expected: "allow", Observed: labenv.Observed(sum.OK && renewedAndUsed, cmp.Or(sum.ErrorCode, "loop ended: "+sum.End)), Reason: reason})
		t.Log(reason)

		require.True(t, sum.OK, "%s: %s", sum.ErrorCode, sum.ErrorMessage)
		require.Zero(t, sum.Failures)
		for _, c := range calls {
			require.True(t, c.OK, "call %d: %s: %s", c.Seq, c.ErrorCode, c.ErrorMessage)
			require.True(t, strings.HasPrefix(c.Arn, "arn:aws:sts::"+account+":assumed-role/rotation-"+sa+"/"), c.Arn)
		}
		require.Equal(t, pyprobe.EndRenewed, sum.End, "the loop must end on the renewal, seen and used: %s", reason)
		require.GreaterOrEqual(t, len(tokens), 2, "the kubelet must have rotated the token file during the run: %s", reason)
		require.Equal(t, pyCallsAfterRenewal, sum.CallsAfterRenewal)
		old, fresh := tokens[0], tokens[1]
		require.EqualValues(t, tokenSeconds, old.exp-old.iat, "the webhook's 600 s token")
		require.GreaterOrEqual(t, fresh.iat-old.iat, int64(tokenSeconds*80/100-10), "renewed within 20%% (+10 s jitter) of expiry")
		require.Less(t, fresh.iat, old.exp, "renewed before the old token expired")
		require.Equal(t, fresh.elapsed, sum.RenewedElapsed, "the loop's renewal is the first call that read the new token")
		// Every exchange this role saw was allowed, and there was one.
		require.NotZero(t, allowed)
		for _, d := range ds {
			require.Equal(t, "Allow", d.Effect, d.Explanation())
		}
	}
}

// pyClientDid says in words what the client did with the token file.
func pyClientDid(client string, accessKeys, allowed, calls int) string {
	if client == pyprobe.Boto3 {
		if allowed == 1 && accessKeys == 1 {
			return "boto3 kept its first session's credentials the whole run and never read the new token"
		}
		return fmt.Sprintf("boto3 used %d access keys", accessKeys)
	}
	switch {
	case allowed >= calls:
		return "every awscli process assumed the role with the token then in the file"
	case allowed == 1:
		return "awscli reused its cached credentials (~/.aws/cli/cache) and never read the new token"
	default:
		return fmt.Sprintf("awscli went to STS %d times in %d calls", allowed, calls)
	}
}
