//go:build e2e

package thirdparty

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/azurearm"
	"github.com/idlab/idlab/emulators/azureblob"
	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/toolrun"
)

// Azure Workload Identity's pod label and service account annotation.
const (
	useLabel     = "azure.workload.identity/use"
	clientIDAnno = "azure.workload.identity/client-id"
)

// TestThirdpartyAzCLI runs Debian's azure-cli 2.45 in the aks cluster
// with the command lines, in pods the Azure Workload Identity
// webhook mutates: az login --federated-token "$(cat
// $AZURE_FEDERATED_TOKEN_FILE)" --service-principal -u $AZURE_CLIENT_ID -t
// $AZURE_TENANT_ID, then az storage blob download --auth-mode login. az
// login trades the token at Entra for a Resource Manager token and lists
// the subscriptions at management.azure.com (emulators/azurearm: those of
// the storage accounts the app holds a role assignment in); with none it
// stops with "No subscriptions found for CLIENT_ID." unless given
// --allow-no-subscriptions (azure-cli 2.45 azure/cli/core/_profile.py
// Profile.login), which the no-role-assignment rows show both ways.
func TestThirdpartyAzCLI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	lab, aks := toolLab(ctx, t, "aks", map[string]map[string]string{
		"az":        {clientIDAnno: appRead},
		"az-norbac": {clientIDAnno: appNoRBC},
		// Names thirdparty-reader, whose only credential trusts az.
		"az-other": {clientIDAnno: appRead},
	})
	require.NotEmpty(t, lab.AzClientImage, "the lab was brought up without the azure-cli image (idlab up --toolclient; make up does)")
	for _, tc := range []struct {
		name, sa, app   string
		allowNoSubs     bool
		container, blob string
		// step is the step whose outcome the row is; code its expected
		// code ("" = allowed), object the blob it must have read.
		step, code, object string
		// subs is the number of subscriptions Resource Manager must have
		// listed (-1: login refused before).
		subs int
	}{
		{name: "own-container", sa: "az", app: appRead, container: "team-a-data", blob: "hello.txt",
			step: "az-blob-download", object: "hello from team-a-data", subs: 1},
		{name: "other-container", sa: "az", app: appRead, container: "team-b-data", blob: "secret.txt",
			step: "az-blob-download", code: "AuthorizationPermissionMismatch", subs: 1},
		{name: "no-role-assignment", sa: "az-norbac", app: appNoRBC, container: "team-a-data", blob: "hello.txt",
			step: "az-login", code: toolrun.NoSubscriptions, subs: 0},
		{name: "no-role-assignment-allow-no-subscriptions", sa: "az-norbac", app: appNoRBC, allowNoSubs: true, container: "team-a-data", blob: "hello.txt",
			step: "az-blob-download", code: "AuthorizationPermissionMismatch", subs: 0},
		{name: "unfederated-sa", sa: "az-other", app: appRead, container: "team-a-data", blob: "hello.txt",
			step: "az-login", code: "AADSTS700213", subs: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			since := lab.LastDecisionID(ctx, t)
			pod, err := toolrun.Pod("az-"+tc.name, tc.sa, lab.AzClientImage, nil,
				toolrun.AzLogin(tc.allowNoSubs), toolrun.AzBlobDownload(account, tc.container, tc.blob), toolrun.CatObject())
			require.NoError(t, err)
			pod.Labels[useLabel] = "true"
			rs := runTool(ctx, t, aks, pod)
			r, ok := toolrun.Find(rs, tc.step)
			require.True(t, ok, "the pod never ran %s: %+v", tc.step, rs)
			o, err := toolrun.AzOutcome(r)
			require.NoError(t, err)

			sub := "system:serviceaccount:" + ns + ":" + tc.sa
			tokens := lab.DecisionsBy(ctx, t, since, entra.Service, sub, nil)
			arm := lab.DecisionsBy(ctx, t, since, azurearm.Service, "", func(d harness.Decision) bool {
				return d.Action == azurearm.ActionListSubscriptions && d.Detail["appId"] == tc.app
			})
			blobs := lab.DecisionsBy(ctx, t, since, azureblob.Service, "", func(d harness.Decision) bool {
				return d.Detail["appId"] == tc.app && d.Detail["container"] == tc.container
			})
			reason := fmt.Sprintf("Entra: %s; Resource Manager: %s; blob: %s", lastOf(tokens), lastOf(arm), lastOf(blobs))
			labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: "Azure Workload Identity (az)", Scenario: tc.name,
				Expected: expected(tc.code), Observed: observed(o), Reason: reason})

			require.Equal(t, tc.code == "", o.OK, "%s: %s", o.Code, o.Message)
			require.Equal(t, tc.code, o.Code, o.Message)
			require.NotEmpty(t, tokens, "Entra must have decided on %s", sub)
			if tc.code == "AADSTS700213" {
				require.NotEmpty(t, o.RequestID, "az printed no Trace ID: %s", o.Message)
				d := tokens[len(tokens)-1]
				require.Equal(t, tc.code, d.Code, d.Reason)
				require.Equal(t, o.RequestID, d.RequestID, "the refusal az printed is this decision")
				require.Empty(t, arm, "no token, no Resource Manager call")
				return
			}
			for _, d := range tokens {
				require.True(t, d.Allowed(), "Entra: %s", d.Reason)
			}
			require.NotEmpty(t, arm, "Resource Manager must have listed %s's subscriptions", tc.app)
			d := arm[len(arm)-1]
			require.True(t, d.Allowed(), d.Reason)
			listed := strings.FieldsFunc(d.Detail["subscriptions"], func(r rune) bool { return r == ',' })
			require.Len(t, listed, tc.subs, d.Reason)
			if tc.code == toolrun.NoSubscriptions {
				require.Empty(t, blobs, "az stopped at login")
				return
			}
			login, _ := toolrun.Find(rs, "az-login")
			accts, err := toolrun.AzAccounts(login)
			require.NoError(t, err)
			require.Len(t, accts, 1)
			require.Equal(t, tc.app, accts[0].User.Name)
			require.NotEmpty(t, blobs, "the blob service must have decided for %s on %s", tc.app, tc.container)
			b := blobs[len(blobs)-1]
			require.Equal(t, tc.code == "", b.Allowed(), b.Reason)
			require.Equal(t, tc.code, b.Code, b.Reason)
			if tc.object != "" {
				cat, ok := toolrun.Find(rs, "cat")
				require.True(t, ok && cat.OK())
				require.Equal(t, tc.object, cat.Output)
			}
		})
	}
}

// lastOf names the last decision of ds for a row's reason.
func lastOf(ds []harness.Decision) string {
	if len(ds) == 0 {
		return "none"
	}
	d := ds[len(ds)-1]
	s := d.Effect + " " + d.Action
	if d.Code != "" {
		s += " " + d.Code
	}
	return s + ": " + d.Reason
}
