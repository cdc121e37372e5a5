//go:build e2e

package gke

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/scenarios/kit/labenv"
)

// TestGKEIdentityBugs reproduces identity bugs from public issues with GKE
// Workload Identity, each row citing its issue (class bugs in the matrix:
// the identity-bugs subtest).
//
// Same KSA name in another namespace: GKE's workloadIdentityUser member is
// serviceAccount:PROJECT.svc.id.goog[NAMESPACE/KSA], so a KSA named like
// the bound idlab-gke/app-a in idlab-gke-other, annotated with the same
// team-a-reader, gets no token from the metadata server (403), and Google
// IAM's decision names the member it refused; idlab-gke-other/app-b, which
// the fixture binds to team-b-reader by its own namespace, reads
// team-b-data. GoogleCloudPlatform/gcs-fuse-csi-driver#1344 adds the same
// case to that driver's e2e suite (a second namespace's KSA of the same
// name whose GSA has no bucket access, whether through GKE Workload
// Identity or a workload identity pool's
// principal://.../subject/system:serviceaccount:NS:KSA); it is a test, not
// a bug report, and the isolation it checks holds here.
// TestLabGoogleSameKSANameRestsOnTheNamespace (denials_test.go) is the
// test of these rows.
func TestGKEIdentityBugs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	gke := lab.Cluster(t, "gke")
	lab.Namespace(ctx, t, gke, otherNS)
	for name, gsa := range map[string]string{"app-a": readerA, "app-b": readerB} {
		_, err := gke.CS.CoreV1().ServiceAccounts(otherNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name,
			Annotations: map[string]string{gsaAnno: gsa}}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	const issue = "GoogleCloudPlatform/gcs-fuse-csi-driver#1344"
	rows := []gkeRow{
		{name: "same-ksa-other-namespace", ksa: "app-a", args: []string{"gcs-get", "team-a-data", "hello.txt"}, wantCode: "Metadata403",
			resource: "projects/idlab/serviceAccounts/" + readerA, member: "serviceAccount:idlab.svc.id.goog[" + otherNS + "/app-a]", issue: issue},
		{name: "other-namespace-ksa-bound", ksa: "app-b", args: []string{"gcs-get", "team-b-data", "secret.txt"}, wantOutput: "team b only",
			resource: "projects/idlab/serviceAccounts/" + readerB, member: "serviceAccount:idlab.svc.id.goog[" + otherNS + "/app-b]", allowed: true, issue: issue},
	}
	t.Run("identity-bugs", func(t *testing.T) {
		for _, tc := range rows {
			t.Run(tc.name, func(t *testing.T) { runGKERow(ctx, t, lab, gke, otherNS, tc) })
		}
	})
}
