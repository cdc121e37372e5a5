package irsa

import (
	"testing"

	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// TestLabIRSADenialsRestOnTheFixture is the test of the irsa suite's deny
// rows (no //go:build e2e: make test runs it): the other service account,
// the same one in another namespace and the webhook's audience-typo
// account are refused irsa-app because of its exact subject condition, and
// the audience typo is refused because the OIDC provider does not list
// that client ID; with each condition widened, the refusal goes away.
func TestLabIRSADenialsRestOnTheFixture(t *testing.T) {
	t.Run("trust", func(t *testing.T) {
		fixturecheck.SubjectConditions(t, []fixturecheck.TrustRow{
			{Name: "own-role", Namespace: "idlab-irsa", ServiceAccount: "app", Role: "irsa-app", Allowed: true},
			{Name: "other-sa-same-namespace", Namespace: "idlab-irsa", ServiceAccount: "other", Role: "irsa-app"},
			{Name: "same-sa-other-namespace", Namespace: "idlab-irsa-other", ServiceAccount: "app", Role: "irsa-app"},
			{Name: "wildcard-trust-too-wide", Namespace: "idlab-irsa-other", ServiceAccount: "app", Role: "irsa-wide", Allowed: true},
			{Name: "webhook audience typo's SA", Namespace: "idlab-irsa", ServiceAccount: "typo", Role: "irsa-app"},
		})
	})
	t.Run("audience-typo", func(t *testing.T) { fixturecheck.AudienceTypo(t, "idlab-irsa", "irsa-app") })
}
