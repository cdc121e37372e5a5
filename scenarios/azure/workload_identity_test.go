//go:build e2e

// Package azure is the Azure Workload Identity suite: in the lab's aks
// cluster the Azure Workload Identity webhook mutates labelled pods whose
// service account names an Entra app, the unmodified azidentity
// WorkloadIdentityCredential trades the projected token at the Entra
// emulator (login.microsoftonline.com through cluster DNS), and the blob
// service (idlab.blob.core.windows.net) enforces the app's role
// assignments. Fixtures: fixtures/azure/lab.yaml.
// TestLabAzureDenialsRestOnTheFixture (denials_test.go, run by make test)
// is the test of its deny rows.
package azure

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/azurewebhook"
	"github.com/idlab/idlab/emulators/azureblob"
	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// ns, otherNS, tenant, account and the apps are in denials_test.go, shared
// with the suite's test of its tests.
const (
	storage  = "https://storage.azure.com/.default"
	useLabel = "azure.workload.identity/use"
	clientID = "azure.workload.identity/client-id"
	mech     = "Azure Workload Identity"
	// noClientID is azidentity's error when the webhook injected nothing.
	noClientID = "no client ID specified. Check pod configuration or set ClientID in the options"
)

func TestAzureWorkloadIdentity(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	aks := lab.Cluster(t, "aks")
	lab.Namespace(ctx, t, aks, ns)
	lab.Namespace(ctx, t, aks, otherNS)
	for _, sa := range []struct{ ns, name, app string }{
		{ns, "app-a", appA},
		{ns, "app-b", appB},
		{ns, "app-c", appA}, // names team-a-reader, whose credential trusts only idlab-aks/app-a
		{ns, "app-aud", appAud},
		{ns, "app-iss", appIss},
		{otherNS, "app-a", appA}, // the same name in another namespace
	} {
		_, err := aks.CS.CoreV1().ServiceAccounts(sa.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Name: sa.name, Annotations: map[string]string{clientID: sa.app}}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}

	tests := []struct {
		name, ns, sa string
		unlabelled   bool
		args         []string
		wantOutput   string
		wantCode     string // AADSTS code, Azure Storage error code, or ConfigError
		wantMessage  string // the SDK's exact message, where it is all there is
		// Entra must decide on the pod's subject (tokenCode: "" = allowed),
		// or, with noToken, must not have been asked at all.
		tokenCode string
		noToken   bool
		// The blob service's decision: app on container, allowed or its code.
		blobApp, container string
		blobAllowed        bool
	}{
		{name: "own-app-token", ns: ns, sa: "app-a", args: []string{"az-token", storage},
			wantOutput: "aud=https://storage.azure.com appid=" + appA + " tid=" + tenant},
		{name: "own-container", ns: ns, sa: "app-a", args: []string{"az-blob-get", account, "team-a-data", "hello.txt"},
			wantOutput: "hello from team-a-data", blobApp: appA, container: "team-a-data", blobAllowed: true},
		{name: "other-app-container", ns: ns, sa: "app-a", args: []string{"az-blob-get", account, "team-b-data", "secret.txt"},
			wantCode: "AuthorizationPermissionMismatch", blobApp: appA, container: "team-b-data"},
		{name: "other-app-own-container", ns: ns, sa: "app-b", args: []string{"az-blob-get", account, "team-b-data", "secret.txt"},
			wantOutput: "team b only", blobApp: appB, container: "team-b-data", blobAllowed: true},
		// The service account names team-a-reader, but its federated
		// credential's subject is idlab-aks/app-a.
		{name: "subject-mismatch", ns: ns, sa: "app-c", args: []string{"az-token", storage},
			wantCode: "AADSTS700213", tokenCode: "AADSTS700213"},
		{name: "same-sa-other-namespace", ns: otherNS, sa: "app-a", args: []string{"az-token", storage},
			wantCode: "AADSTS700213", tokenCode: "AADSTS700213"},
		{name: "audience-typo", ns: ns, sa: "app-aud", args: []string{"az-token", storage},
			wantCode: "AADSTS700212", tokenCode: "AADSTS700212"},
		{name: "issuer-mismatch", ns: ns, sa: "app-iss", args: []string{"az-token", storage},
			wantCode: "AADSTS700211", tokenCode: "AADSTS700211"},
		// Without the label the webhook (objectSelector) never sees the
		// pod: no AZURE_* variables, no token volume, and the SDK cannot
		// even build its credential.
		{name: "unlabelled-pod", ns: ns, sa: "app-a", unlabelled: true, args: []string{"az-token", storage},
			wantCode: "ConfigError", wantMessage: noClientID, noToken: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub := "system:serviceaccount:" + tc.ns + ":" + tc.sa
			since := lab.LastDecisionID(ctx, t)
			blobOf := func(d harness.Decision) bool {
				return d.Detail["appId"] == tc.blobApp && (tc.container == "" || d.Detail["container"] == tc.container)
			}
			pod := podrun.WithArgs(podrun.PlainPod(tc.name, tc.sa, lab.ProbeImage), tc.args...)
			if !tc.unlabelled {
				pod.Labels = map[string]string{useLabel: "true"}
			}
			res, err := podrun.Run(ctx, aks.CS, tc.ns, pod)
			require.NoError(t, err)
			want := "allow"
			if tc.wantCode != "" {
				want = tc.wantCode
			}
			reason, selected := res.ErrorMessage, true
			if tc.unlabelled {
				// The webhook never sees this pod: the evidence is that it
				// is there and selects by the label (an absent webhook
				// would leave the pod alone too).
				evidence := "webhook configuration " + azurewebhook.ConfigName + ": "
				cfg, err := aks.CS.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, azurewebhook.ConfigName, metav1.GetOptions{})
				if err == nil {
					evidence, selected = webhookSelection(cfg)
				} else {
					evidence, selected = evidence+err.Error(), false
				}
				reason = evidence + "; " + reason
			}
			labenv.Row(t, labenv.Outcome{Suite: "azure", Scenario: tc.name, Mechanism: mech,
				Expected: want, Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: reason})
			require.True(t, selected, "the webhook is registered for labelled pods only, failing closed: %s", reason)
			if tc.wantCode == "" {
				require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
				require.Equal(t, tc.wantOutput, res.Output)
			} else {
				require.False(t, res.OK, "%s must be refused, got %q", tc.name, res.Output)
				require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
				if tc.wantMessage != "" {
					require.Equal(t, tc.wantMessage, res.ErrorMessage)
				}
				t.Logf("%s: %s", res.ErrorCode, res.ErrorMessage)
			}

			tokens := lab.DecisionsBy(ctx, t, since, entra.Service, sub, nil)
			if tc.noToken {
				require.Empty(t, tokens, "Entra must not have been asked for %s", sub)
			} else {
				require.NotEmpty(t, tokens, "Entra must have decided on %s", sub)
				d := tokens[len(tokens)-1]
				require.Equal(t, tc.tokenCode == "", d.Allowed(), d.Reason)
				require.Equal(t, tc.tokenCode, d.Code, d.Reason)
				require.Equal(t, tenant, d.Detail["tenant"])
			}
			if tc.blobApp == "" {
				return
			}
			ds := lab.DecisionsBy(ctx, t, since, azureblob.Service, "", blobOf)
			require.NotEmpty(t, ds, "the blob service must have decided for %s on %s", tc.blobApp, tc.container)
			d := ds[len(ds)-1]
			require.Equal(t, tc.blobAllowed, d.Allowed(), d.Reason)
			if !tc.blobAllowed {
				require.Equal(t, tc.wantCode, d.Code, d.Reason)
			}
		})
	}
}
