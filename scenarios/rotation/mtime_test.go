//go:build e2e

package rotation

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/components/irsawebhook"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

// mtimeRefresh returns the row of an application that trades its token for
// STS credentials by hand and reads app-a-data/hello.txt every 20 s with
// them (probe s3-refresh), in real time:
//
//   - the mtime client re-assumes only when the token file's mtime changes,
//     as cubestore's spawn_creds_refresh_loop does (cube-js/cube#11622). The
//     token is the webhook's default 86400 s one, which the kubelet renews
//     after about 19 hours, so the file never changes while the first
//     session (DurationSeconds 900, the STS minimum, where cube asks for
//     STS's default hour) expires: S3 refuses it with ExpiredToken "The
//     provided token has expired.", and the decision log names the expired
//     session.
//   - the fixed client also re-assumes once the session has less than a
//     minute left (the fix proposed in cube-js/cube#11808) and reads on
//     with its second session.
//
// The role's sessions are issued mtimeSessionAge old (the lab's
// ?sessionAge=11m&role=ARN, awsiam.SetSessionAge), so the 900 s session
// STS answers ends mtimeSession (240 s) after it is issued, by the
// Expiration in the answer and at S3 alike: the clients behave as they do
// with a full session, and each row takes about 4 minutes rather than 15.
// Nothing else moves: the token, SigV4 and every other role keep lab time.
//
// Issue 19's summary says the mtime client misses the kubelet's ..data
// symlink swap and ends in STS's ExpiredTokenException; the thread says
// otherwise and the rows follow it: cube stats the token path with
// std::fs::metadata, which follows the symlink, so a rotation does change
// the mtime it sees (TestS3RefreshMtimeChange in the probe); what it
// misses is the session's own expiry, long before the token's, and the
// refusal comes from S3, for the session credentials.
func (e *env) mtimeRefresh(fixed bool) func(context.Context, *testing.T) {
	return func(ctx context.Context, t *testing.T) {
		start := time.Now()
		sa, mode, scenario, want := "mtime", "mtime", "STS session held until the token file changes (cube-js/cube#11622)", "ExpiredToken"
		if fixed {
			sa, mode, scenario, want = "mtime-fixed", "expiry", "STS session re-assumed before it expires (cube-js/cube#11808)", ""
		}
		role := rolePfx + sa
		e.setClock(ctx, t, "sessionAge", mtimeSessionAge, "role", role)
		pod := podrun.WithArgs(podrun.PlainPod(sa+"-refresh", sa, e.lab.ProbeImage), "s3-refresh", mode, "480", "20", "app-a-data", "hello.txt")
		e.waitForWebhook(ctx, t, pod, role, irsawebhook.DefaultTokenExpiration)
		res, out, err := podrun.RunWithin(ctx, e.eks.CS, ns, pod, 10*time.Minute)
		require.NoError(t, err)
		calls, err := probe.ParseCalls(out)
		require.NoError(t, err)
		require.NotEmpty(t, calls, "the probe made no call: %s", out)

		var sessions []probe.Call
		reads, failed := 0, 0
		for _, c := range calls {
			switch {
			case c.Op == "AssumeRoleWithWebIdentity":
				sessions = append(sessions, c)
			case c.OK:
				reads++
			default:
				failed++
			}
		}
		last := calls[len(calls)-1]
		reason := fmt.Sprintf("sessions issued %s old (900 s sessions that end %s after issue); %d sessions, %d reads, %d failed",
			mtimeSessionAge, mtimeSession, len(sessions), reads, failed)
		var d labDecision
		if !last.OK && last.RequestID != "" {
			ds := e.lab.DecisionsOf(ctx, t, labenv.DecisionQuery{Action: "s3:Authenticate", RequestID: last.RequestID})
			if len(ds) == 1 {
				d = labDecision{Effect: ds[0].Effect, Reason: ds[0].Reason, Explanation: ds[0].Explanation()}
				reason += fmt.Sprintf("; S3: %s: %s", d.Effect, d.Reason)
			}
		}
		if len(sessions) > 0 {
			reason += fmt.Sprintf("; the last call came %s after the first session was issued", last.At.Sub(sessions[0].At).Round(time.Second))
		}
		reason += "; took " + took(start)
		labenv.Row(t, labenv.Outcome{Suite: suiteName, Tier: labenv.Slow, Scenario: scenario, Mechanism: "IRSA webhook (eks)",
			Expected: expected(want), Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: reason})
		t.Log(reason)

		for _, s := range sessions {
			require.True(t, s.OK, "%s: %s", s.ErrorCode, s.ErrorMessage)
			require.NotNil(t, s.Token, "the token the session was assumed with")
			require.Equal(t, "Allow", e.decision(ctx, t, role, s.RequestID).Effect)
		}
		require.Equal(t, "GetObject", last.Op)
		require.NotEmpty(t, sessions)
		require.Equal(t, sessions[0].Token.ID, sessions[len(sessions)-1].Token.ID, "the token file never changed: one token")
		if fixed {
			require.True(t, res.OK, "%s: %s (%s)", res.ErrorCode, res.ErrorMessage, res.Output)
			require.Zero(t, failed)
			require.Len(t, sessions, 2, "re-assumed once, before the first session expired")
			require.True(t, last.OK)
			require.Equal(t, sessions[1].AccessKeyID, last.AccessKeyID, "read with the second session")
			require.Less(t, sessions[1].At.Sub(sessions[0].At), mtimeSession, "re-assumed before the first session ended")
			return
		}
		require.False(t, res.OK, "the mtime client must be refused once its session expires (%s)", res.Output)
		require.Equal(t, want, res.ErrorCode, res.ErrorMessage)
		require.Equal(t, "The provided token has expired.", res.ErrorMessage)
		require.Len(t, sessions, 1, "never re-assumed: the file did not change")
		require.Equal(t, sessions[0].AccessKeyID, last.AccessKeyID, "refused with the first session")
		require.GreaterOrEqual(t, last.At.Sub(sessions[0].At), mtimeSession-10*time.Second, "refused only once the session was over (the probe notes a call before sending it)")
		require.Equal(t, "Rejected", d.Effect, "S3's refusal is in the decision log: %s", reason)
		m := regexp.MustCompile(`^ExpiredToken: the session's credentials \(` + last.AccessKeyID + `\) expired at (\S+?Z)`).FindStringSubmatch(d.Reason)
		require.Len(t, m, 2, d.Reason)
		expired, err := time.Parse(time.RFC3339, m[1])
		require.NoError(t, err)
		require.InDelta(t, mtimeSession.Seconds(), expired.Sub(sessions[0].At).Seconds(), 5, "the session ended %s after it was issued", mtimeSession)
	}
}
