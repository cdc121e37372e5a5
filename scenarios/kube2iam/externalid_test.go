//go:build e2e

package kube2iam

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/scenarios/kit/labenv"
)

const (
	xidNS       = "idlab-kube2iam-xid"
	xidRoleName = "kube2iam-xid"
	xidRole     = base + xidRoleName
	externalKey = "iam.amazonaws.com/external-id"
	// sessionCache is where upstream keys its sessions: jtblin/kube2iam
	// iam/iam.go AssumeRole at 4c4a2b4b caches by the role ARN alone, so
	// the ExternalId of the pod that opened a session is never asked of
	// the next pod with the role (components/kube2iam
	// TestSessionCacheIgnoresExternalID).
	sessionCache = "jtblin/kube2iam iam/iam.go AssumeRole, cache keyed by the role ARN (4c4a2b4b)"
)

// externalIDCache shows kube2iam's session cache bypassing the ExternalId
// a role's trust requires: kube2iam-xid trusts the node only with the
// ExternalId team-a. A pod whose iam.amazonaws.com/external-id is team-a
// gets the role; a second pod with the role and external ID team-b, asking
// within the TTL, is served the first pod's session and STS is never asked.
// The test of the test: with kube2iam restarted (its cache empty), the
// team-b pod asks first, and STS refuses the node's AssumeRole on the
// ExternalId condition, which kube2iam answers with 500.
func (e *env) externalIDCache(ctx context.Context, t *testing.T) {
	e.lab.Namespace(ctx, t, e.eks, xidNS, "app")
	e.allow(ctx, t, xidNS, `["`+xidRoleName+`"]`)
	annotations := func(externalID string) map[string]string {
		return map[string]string{roleKey: xidRoleName, externalKey: externalID}
	}
	e.stopKube2iam(ctx, t) // an empty session cache
	e.startKube2iam(ctx, t)

	since := e.lab.LastDecisionID(ctx, t)
	first, _ := e.runAnnotated(ctx, t, xidNS, "xid-team-a", annotations("team-a"))
	require.True(t, first.OK, "the team-a pod gets the role: %s: %s (%s)", first.ErrorCode, first.ErrorMessage, first.Output)
	require.True(t, strings.HasPrefix(first.Arn, "arn:aws:sts::"+account+":assumed-role/"+xidRoleName+"/"), first.Arn)
	opened := e.lab.DecisionsSince(ctx, t, since, "sts:AssumeRole", xidRole)
	require.NotEmpty(t, opened, "the node assumed %s for the team-a pod", xidRole)
	require.Equal(t, "Allow", opened[len(opened)-1].Effect, opened[len(opened)-1].Reason)

	t.Run("other-external-id-served-the-cached-session", func(t *testing.T) {
		since, start := e.lab.LastDecisionID(ctx, t), time.Now()
		res, ip := e.runAnnotated(ctx, t, xidNS, "xid-team-b", annotations("team-b"))
		ds := e.proxyDecisions(ctx, t, ip, start)
		stsDs := e.lab.DecisionsSince(ctx, t, since, "sts:AssumeRole", xidRole)
		observed := status(res)
		if res.OK && res.Arn == first.Arn {
			observed = "allow: the team-a pod's session"
		}
		labenv.Row(t, labenv.Outcome{Suite: suite, Scenario: "another external ID is served the cached session",
			Mechanism: mechanism, Expected: "allow: the team-a pod's session", Observed: observed,
			Reason: fmt.Sprintf("team-b pod got %s, the team-a pod's session; STS decisions on %s meanwhile: %d [%s]", res.Arn, xidRoleName, len(stsDs), sessionCache)})
		require.True(t, res.OK, "%s: %s (%s)", res.ErrorCode, res.ErrorMessage, res.Output)
		require.Equal(t, first.Arn, res.Arn, "the same session: its name is the hash of the team-a pod's IP")
		require.NotEmpty(t, ds, "kube2iam must have logged a decision for %s", ip)
		require.Equal(t, "Allow", ds[len(ds)-1].Decision)
		require.Empty(t, stsDs, "STS was never asked, so the ExternalId team-b was never checked")
	})

	t.Run("other-external-id-on-an-empty-cache-refused", func(t *testing.T) {
		e.stopKube2iam(ctx, t)
		e.startKube2iam(ctx, t)
		since, start := e.lab.LastDecisionID(ctx, t), time.Now()
		res, ip := e.runAnnotated(ctx, t, xidNS, "xid-team-b-first", annotations("team-b"))
		ds := e.proxyDecisions(ctx, t, ip, start)
		stsDs := e.lab.DecisionsSince(ctx, t, since, "sts:AssumeRole", xidRole)
		// After the SDK gives up the probe reads the role list again
		// (allowed), so the refusal is the last Deny, not the last decision.
		var d decision
		for _, x := range ds {
			if x.Decision == "Deny" {
				d = x
			}
		}
		observed, reason := status(res), "kube2iam logged no refusal for "+ip
		if d.Decision != "" {
			reason = "kube2iam " + d.Decision + " " + fmt.Sprint(d.Status) + ": " + d.Reason + ": " + d.Error
			if !res.OK {
				observed = fmt.Sprint(d.Status)
			}
		}
		if len(stsDs) > 0 {
			reason += "; STS " + stsDs[len(stsDs)-1].Effect + ": " + stsDs[len(stsDs)-1].Reason
		}
		labenv.Row(t, labenv.Outcome{Suite: suite, Scenario: "another external ID on an empty cache is refused (test of the test)",
			Mechanism: mechanism, Expected: "500", Observed: observed, Reason: reason + " [" + sessionCache + "]"})
		require.False(t, res.OK, "team-b must not get %s from STS, got %s", xidRoleName, res.Arn)
		require.Equal(t, "Deny", d.Decision, "kube2iam refused the credentials: %+v", ds)
		require.Equal(t, 500, d.Status, "%+v", d)
		require.Contains(t, d.Error, "AccessDenied", "the node's AssumeRole refused: %+v", d)
		require.NotEmpty(t, stsDs, "the node asked STS for %s", xidRole)
		for _, sd := range stsDs {
			require.NotEqual(t, "Allow", sd.Effect, "STS must refuse team-b: %s", sd.Reason)
		}
		require.Contains(t, stsDs[len(stsDs)-1].Reason, "sts:ExternalId", "refused on the ExternalId condition")
	})
}
