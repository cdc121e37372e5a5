package aadpodidentity

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

const otherRID = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/MC_idlab_aks_westus2/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aadpodid-team-b"

func TestIdentityPatch(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		current, add, remove []string
		want                 string
	}{
		{name: "add to none", add: []string{readerRID}, want: `{"identity":{"type":"UserAssigned","userAssignedIdentities":{"` + strings.ToLower(readerRID) + `":{}}}}`},
		{name: "already there, other case", current: []string{strings.ToUpper(readerRID)}, add: []string{readerRID}},
		{name: "remove the last", current: []string{readerRID}, remove: []string{readerRID}, want: `{"identity":{"type":"None","userAssignedIdentities":{"` + strings.ToLower(readerRID) + `":null}}}`},
		{name: "remove one of two", current: []string{readerRID, otherRID}, remove: []string{otherRID}, want: `{"identity":{"type":"UserAssigned","userAssignedIdentities":{"` + strings.ToLower(otherRID) + `":null}}}`},
		{name: "in both lists: add wins", current: []string{readerRID}, add: []string{readerRID}, remove: []string{readerRID}},
		{name: "remove absent", remove: []string{readerRID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := IdentityPatch(tc.current, tc.add, tc.remove)
			if tc.want == "" {
				require.Nil(t, got)
				return
			}
			require.JSONEq(t, tc.want, string(got))
		})
	}
}

func TestARMClient(t *testing.T) {
	var patched []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/vmss", r.URL.Path)
		require.Equal(t, ComputeAPIVersion, r.URL.Query().Get("api-version"))
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"code":"LinkedAuthorizationFailed","message":"no assign"}}`))
			return
		}
		if r.Method == http.MethodPatch {
			b, _ := io.ReadAll(r.Body)
			patched = append(patched, string(b))
		}
		_, _ = w.Write([]byte(`{"identity":{"type":"UserAssigned","userAssignedIdentities":{"` + otherRID + `":{}}}}`))
	}))
	defer srv.Close()
	a := ARM{BaseURL: srv.URL, Token: func(context.Context) (string, error) { return "tok", nil }}
	ids, err := a.UserAssigned(context.Background(), "s", "rg", "vmss")
	require.NoError(t, err)
	require.Equal(t, []string{otherRID}, ids)
	require.NoError(t, a.UpdateIdentities(context.Background(), "s", "rg", "vmss", []string{readerRID}, nil))
	require.Len(t, patched, 1)
	require.NoError(t, a.UpdateIdentities(context.Background(), "s", "rg", "vmss", []string{otherRID}, nil))
	require.Len(t, patched, 1, "nothing to change: no PATCH")
	a.Token = func(context.Context) (string, error) { return "bad", nil }
	err = a.UpdateIdentities(context.Background(), "s", "rg", "vmss", []string{readerRID}, nil)
	var ae *ARMError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "LinkedAuthorizationFailed", ae.Code)
	require.ErrorContains(t, err, `failed to get vmss vmss in resource group rg, error: StatusCode=403 -- Original Error: Code="LinkedAuthorizationFailed" Message="no assign"`)
}

func TestParseAzureConfig(t *testing.T) {
	good := `{"cloud":"AzurePublicCloud","tenantId":"t","subscriptionId":"s","resourceGroup":"MC_rg","vmType":"vmss","useManagedIdentityExtension":true,"userAssignedIdentityID":"kubelet","primaryScaleSetName":"aks-nodepool1-1-vmss"}`
	c, err := ParseAzureConfig([]byte(good))
	require.NoError(t, err)
	require.Equal(t, "kubelet", c.UserAssignedIdentityID)
	ss, err := c.ScaleSetOf("kind://docker/aks/aks-control-plane")
	require.NoError(t, err)
	require.Equal(t, "aks-nodepool1-1-vmss", ss)
	ss, err = c.ScaleSetOf("azure:///subscriptions/s/resourceGroups/MC_rg/providers/Microsoft.Compute/virtualMachineScaleSets/other-vmss/virtualMachines/3")
	require.NoError(t, err)
	require.Equal(t, "other-vmss", ss)
	for _, bad := range []string{`{`, `{"subscriptionId":"s","resourceGroup":"r"}`, `{"useManagedIdentityExtension":true}`, `{"useManagedIdentityExtension":true,"subscriptionId":"s","resourceGroup":"r","vmType":"standard"}`} {
		_, err := ParseAzureConfig([]byte(bad))
		require.Error(t, err, bad)
	}
	_, err = AzureConfig{}.ScaleSetOf("kind://x")
	require.Error(t, err)
}

func FuzzParseAzureConfig(f *testing.F) {
	f.Add(`{"useManagedIdentityExtension":true,"subscriptionId":"s","resourceGroup":"r","primaryScaleSetName":"v"}`)
	f.Add(`{"vmType":"VMSS"}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := ParseAzureConfig([]byte(raw))
		if err == nil {
			require.True(t, c.UseManagedIdentityExtension)
			require.NotEmpty(t, c.SubscriptionID)
		}
	})
}

// fakeMICCluster keeps assigned identities in memory.
type fakeMICCluster struct {
	pods     []corev1.Pod
	ids      []AzureIdentity
	bindings []AzureIdentityBinding
	assigned map[string]AzureAssignedIdentity
}

func (c *fakeMICCluster) LabelledPods(context.Context) ([]corev1.Pod, error) { return c.pods, nil }
func (c *fakeMICCluster) ProviderIDs(context.Context) (map[string]string, error) {
	return map[string]string{"aks-control-plane": "kind://docker/aks/aks-control-plane"}, nil
}
func (c *fakeMICCluster) Identities(context.Context) ([]AzureIdentity, error) { return c.ids, nil }
func (c *fakeMICCluster) Bindings(context.Context) ([]AzureIdentityBinding, error) {
	return c.bindings, nil
}
func (c *fakeMICCluster) AssignedIdentities(context.Context) ([]AzureAssignedIdentity, error) {
	var out []AzureAssignedIdentity
	for _, a := range c.assigned {
		out = append(out, a)
	}
	return out, nil
}
func (c *fakeMICCluster) CreateAssigned(_ context.Context, a AzureAssignedIdentity) error {
	c.assigned[a.Name] = a
	return nil
}
func (c *fakeMICCluster) SetAssignedStatus(_ context.Context, a AzureAssignedIdentity, s string) error {
	a = c.assigned[a.Name]
	a.Status.Status = s
	c.assigned[a.Name] = a
	return nil
}
func (c *fakeMICCluster) DeleteAssigned(_ context.Context, a AzureAssignedIdentity) error {
	delete(c.assigned, a.Name)
	return nil
}

// fakeScaleSets holds one scale set's identities; fail refuses updates.
type fakeScaleSets struct {
	ids  map[string]bool
	fail error
}

func (s *fakeScaleSets) UpdateIdentities(_ context.Context, sub, rg, name string, add, remove []string) error {
	if s.fail != nil {
		return s.fail
	}
	if sub != "s" || rg != "MC_rg" || name != "vmss" {
		return errors.New("wrong scale set " + name)
	}
	for _, id := range remove {
		delete(s.ids, strings.ToLower(id))
	}
	for _, id := range add {
		s.ids[strings.ToLower(id)] = true
	}
	return nil
}

func TestMICSync(t *testing.T) {
	ctx := context.Background()
	reader := identity("idlab-aadpodid", "reader", readerClient, false)
	c := &fakeMICCluster{
		pods:     []corev1.Pod{pod("idlab-aadpodid", "app", "reader", "aks-control-plane"), pod("idlab-aadpodid", "unbound", "", "aks-control-plane")},
		ids:      []AzureIdentity{reader},
		bindings: []AzureIdentityBinding{binding("idlab-aadpodid", "reader-binding", "reader", "reader")},
		assigned: map[string]AzureAssignedIdentity{},
	}
	cloud := &fakeScaleSets{ids: map[string]bool{"kubelet": true}, fail: errors.New("LinkedAuthorizationFailed")}
	m := MIC{Cluster: c, Cloud: cloud, Config: AzureConfig{SubscriptionID: "s", ResourceGroupName: "MC_rg", PrimaryScaleSetName: "vmss"}}

	require.ErrorContains(t, m.Sync(ctx), "failed to update user-assigned identities on node vmss (add [1], del [0], update[0]), error: LinkedAuthorizationFailed")
	require.Equal(t, AssignedIDCreated, c.assigned["app-idlab-aadpodid-reader"].Status.Status, "refused by ARM: stays Created")

	cloud.fail = nil
	require.NoError(t, m.Sync(ctx))
	require.Equal(t, AssignedIDAssigned, c.assigned["app-idlab-aadpodid-reader"].Status.Status)
	require.Equal(t, map[string]bool{"kubelet": true, strings.ToLower(readerRID): true}, cloud.ids)
	require.Len(t, c.assigned, 1, "the unlabelled pod gets nothing")

	c.pods = c.pods[1:]
	require.NoError(t, m.Sync(ctx))
	require.Empty(t, c.assigned)
	require.Equal(t, map[string]bool{"kubelet": true}, cloud.ids, "the identity leaves the node; the kubelet identity MIC did not assign stays")
}

func TestPlanSyncKeepsSharedIdentity(t *testing.T) {
	reader := identity("ns", "reader", readerClient, false)
	b := binding("ns", "b", "reader", "reader")
	a1 := assignedIdentity(reader, b, pod("ns", "one", "reader", "n1"), false)
	a2 := assignedIdentity(reader, b, pod("ns", "two", "reader", "n1"), false)
	a1.Status.Status, a2.Status.Status = AssignedIDAssigned, AssignedIDAssigned
	plan := PlanSync(map[string]AzureAssignedIdentity{a2.Name: a2}, []AzureAssignedIdentity{a1, a2}, func(string) (string, error) { return "vmss", nil })
	require.Empty(t, plan.Create)
	require.Len(t, plan.ByScaleSet["vmss"].Delete, 1)
	require.Empty(t, plan.ByScaleSet["vmss"].Remove, "pod two on the same scale set still uses it")
	b2, _ := json.Marshal(plan.ByScaleSet["vmss"].Add)
	require.Equal(t, "null", string(b2))
}
