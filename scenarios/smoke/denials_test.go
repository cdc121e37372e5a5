package smoke

import (
	"testing"

	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// TestLabSmokeDenialsRestOnTheFixture is the test of the smoke suite's deny
// rows (no //go:build e2e: make test runs it): app-b is refused app-a's
// role because of app-a's subject condition, and app-a is refused app-b's
// bucket because its policy names only app-a-data; with either widened,
// the same requests are allowed.
func TestLabSmokeDenialsRestOnTheFixture(t *testing.T) {
	t.Run("trust", func(t *testing.T) {
		fixturecheck.SubjectConditions(t, []fixturecheck.TrustRow{
			{Name: "right-sa", Namespace: "idlab-smoke", ServiceAccount: "app-a", Role: "app-a", Allowed: true},
			{Name: "other-sa", Namespace: "idlab-smoke", ServiceAccount: "app-b", Role: "app-a"},
		})
	})
	t.Run("bucket", func(t *testing.T) {
		fixturecheck.OwnBucketOnly(t, fixturecheck.BucketRow{Namespace: "idlab-smoke", ServiceAccount: "app-a", Role: "app-a",
			Own: "Resource: [arn:aws:s3:::app-a-data, arn:aws:s3:::app-a-data/*]", Put: true})
	})
}
