//go:build e2e

package azure

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// TestAzureIdentityBugs reproduces identity bugs from public issues with
// Azure Workload Identity in the aks cluster, each row citing its issue
// (class bugs in the matrix: the identity-bugs subtest), each broken row
// beside its fixed one. The pods are labelled, so the webhook injects the
// client ID of their service account's annotation; a fixed row sets
// AZURE_CLIENT_ID itself to bugs-fixed, whose federated credential is the
// broken one corrected (the webhook never overrides a variable the
// container has, as upstream), so the pod, its service account and its
// token stay the same and only the credential Entra matches changes.
//
//   - issuer-without-trailing-slash: the aks issuer ends with a slash, as
//     AKS's do; a federated credential created without it is AADSTS700211
//     and the decision names the credential that missed by the slash.
//     Azure/azure-workload-identity#1700 reports exactly this (2026: a
//     managed identity's credential without the slash stopped matching).
//     The issues issue 19 names, #340 and #1200, show the refusal for an
//     AKS issuer presented with its slash (#340 as 2022's AADSTS70021,
//     #1200 as AADSTS700211), but their threads do not pin it on a missing
//     slash (#1200's reporter had the slash; a KEDA restart or a
//     user-assigned identity fixed it for others), so the row cites #1700.
//   - subject-case-mismatch: a credential for ...:App-A and the service
//     account app-a (a Kubernetes name is lower case). Azure/login#517's
//     thread gives the code as AADSTS7002138, "The subject matches with
//     case-insensitive comparison, but not with case-sensitive comparison"
//     (Entra's case-sensitive matching, August 2024), not AADSTS700213 as
//     issue 19's summary says; the row follows the thread.
//   - default-cluster-issuer: a cluster left at the default
//     --service-account-issuer signs with iss
//     https://kubernetes.default.svc.cluster.local, which no credential
//     names: AADSTS700211 (Azure/azure-workload-identity#616, whose log
//     shows that issuer as AADSTS70021). The token is made by the lab's
//     OIDC signer with that issuer and the claims kube-apiserver gives
//     (see scenarios/irsabugs TestDefaultClusterIssuer for why), mounted
//     from a Secret as AZURE_FEDERATED_TOKEN_FILE; Entra refuses it on iss
//     before fetching any key. The fixed row presents the aks cluster's own
//     projected token.
//
// TestLabAzureBugDenialsRestOnTheFixture (denials_test.go) is the test of
// these rows.
func TestAzureIdentityBugs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	aks := lab.Cluster(t, "aks")
	lab.Namespace(ctx, t, aks, bugsNS)
	annotated := map[string]string{"slash": appNoSlash, "app-a": appCase, "default-issuer": appFixed}
	for sa, app := range annotated {
		_, err := aks.CS.CoreV1().ServiceAccounts(bugsNS).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Name: sa, Annotations: map[string]string{clientID: app}}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	const secret = "default-issuer-token"
	tok := lab.MintToken(ctx, t, defaultIssuer, bugsNS, "default-issuer", entra.DefaultFederatedAudience)
	_, err := aks.CS.CoreV1().Secrets(bugsNS).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret},
		StringData: map[string]string{"token": tok}}, metav1.CreateOptions{})
	require.NoError(t, err)

	issues := map[string]string{
		"issuer-without-trailing-slash": "Azure/azure-workload-identity#1700", "issuer-with-trailing-slash": "Azure/azure-workload-identity#1700",
		"subject-case-mismatch": "Azure/login#517", "subject-lower-case": "Azure/login#517",
		"default-cluster-issuer": "Azure/azure-workload-identity#616", "cluster-issuer-set": "Azure/azure-workload-identity#616",
	}
	t.Run("identity-bugs", func(t *testing.T) {
		for _, r := range azureBugRows(fixturecheck.Issuer("aks")) {
			t.Run(r.name, func(t *testing.T) {
				sub := "system:serviceaccount:" + bugsNS + ":" + r.sa
				since := lab.LastDecisionID(ctx, t)
				pod := podrun.WithArgs(podrun.PlainPod(r.name, r.sa, lab.ProbeImage), "az-token", storage)
				pod.Labels = map[string]string{useLabel: "true"}
				if r.app != annotated[r.sa] {
					podrun.WithEnv(pod, "AZURE_CLIENT_ID", r.app)
				}
				if r.issuer == defaultIssuer {
					podrun.WithTokenSecret(pod, secret, "AZURE_FEDERATED_TOKEN_FILE")
				}
				res, err := podrun.Run(ctx, aks.CS, bugsNS, pod)
				require.NoError(t, err)
				tokens := lab.DecisionsBy(ctx, t, since, entra.Service, sub, nil)
				reason := res.ErrorMessage
				if len(tokens) > 0 {
					last := tokens[len(tokens)-1]
					reason = strings.TrimSpace(last.Code + " " + last.Reason)
					if near := last.Detail["nearMiss"]; near != "" {
						reason += " (decision log: " + near + ")"
					}
					reason += "; assertion iss " + last.Detail["issuer"] + ", app " + last.Detail["app"]
				}
				labenv.Row(t, labenv.Outcome{Suite: "azure", Scenario: r.name, Mechanism: mech,
					Expected: labenv.Observed(r.code == "", r.code), Observed: labenv.Observed(res.OK, res.ErrorCode),
					Reason: reason + " [" + issues[r.name] + "]"})

				require.NotEmpty(t, tokens, "Entra must have decided on %s", sub)
				last := tokens[len(tokens)-1]
				require.Equal(t, r.app, last.Detail["clientId"], "the client ID the pod presented")
				require.Equal(t, r.issuer, last.Detail["issuer"], "the token's iss")
				if r.code == "" {
					require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
					require.Equal(t, "aud=https://storage.azure.com appid="+r.app+" tid="+tenant, res.Output)
					require.True(t, last.Allowed(), last.Reason)
					return
				}
				require.False(t, res.OK, "%s must be refused, got %q", r.name, res.Output)
				require.Equal(t, r.code, res.ErrorCode, res.ErrorMessage)
				require.False(t, last.Allowed())
				require.Equal(t, r.code, last.Code, last.Reason)
				require.Contains(t, res.ErrorMessage, r.code+": "+last.Reason, "the pod saw Entra's message")
				switch r.name {
				case "issuer-without-trailing-slash":
					require.Equal(t, noSlashNear, last.Detail["nearMiss"], "the decision names the missing slash")
				case "subject-case-mismatch":
					require.Contains(t, last.Reason, "The subject matches with case-insensitive comparison, but not with case-sensitive comparison.")
					require.Contains(t, last.Detail["nearMiss"], `has subject "system:serviceaccount:`+bugsNS+`:App-A"`)
				case "default-cluster-issuer":
					require.Equal(t, "No matching federated identity record found for presented assertion issuer '"+defaultIssuer+"'. "+
						"Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. "+
						"https://learn.microsoft.com/entra/workload-id/workload-identity-federation", last.Reason)
					require.Empty(t, last.Detail["nearMiss"])
				}
			})
		}
	})
}
