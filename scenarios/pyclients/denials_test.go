package pyclients

import (
	"testing"

	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// TestLabPyclientsDenialsRestOnTheFixture is the test of the pyclients
// suite's deny rows (no //go:build e2e: make test runs it): the refusals
// boto3 and awscli report rest on py-app's subject condition, its OIDC
// provider's client IDs and its bucket policy, as the Go rows do.
func TestLabPyclientsDenialsRestOnTheFixture(t *testing.T) {
	t.Run("trust", func(t *testing.T) {
		fixturecheck.SubjectConditions(t, []fixturecheck.TrustRow{
			{Name: "own-role", Namespace: "idlab-pyclients", ServiceAccount: "app", Role: "py-app", Allowed: true},
			{Name: "other-sa-same-namespace", Namespace: "idlab-pyclients", ServiceAccount: "other", Role: "py-app"},
			{Name: "same-sa-other-namespace", Namespace: "idlab-pyclients-other", ServiceAccount: "app", Role: "py-app"},
		})
	})
	t.Run("audience-typo", func(t *testing.T) { fixturecheck.AudienceTypo(t, "idlab-pyclients", "py-app") })
	t.Run("bucket", func(t *testing.T) {
		fixturecheck.OwnBucketOnly(t, fixturecheck.BucketRow{Namespace: "idlab-pyclients", ServiceAccount: "app", Role: "py-app",
			Own: "Sid: PyAppReadsAppAData\n                Effect: Allow\n                Action: s3:GetObject\n                Resource: arn:aws:s3:::app-a-data/*"})
	})
}
