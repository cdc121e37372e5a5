package azurearm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/internal/decisionlog"
)

const (
	nodeRG   = "MC_idlab_aks_westus2"
	vmss     = "aks-nodepool1-12345678-vmss"
	miReader = "/subscriptions/" + sub + "/resourcegroups/" + nodeRG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aadpodid-reader"
	miOther  = "/subscriptions/" + sub + "/resourcegroups/other-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/elsewhere"
	miGhost  = "/subscriptions/" + sub + "/resourcegroups/" + nodeRG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ghost"
)

// holder is a scale set's identities.
type holder struct{ ids []string }

func (h *holder) Assigned() []string { return slices.Clone(h.ids) }

func (h *holder) Patch(body []byte) error {
	var p struct {
		Identity struct {
			UserAssignedIdentities map[string]*struct{} `json:"userAssignedIdentities"`
		} `json:"identity"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return err
	}
	for id, v := range p.Identity.UserAssignedIdentities {
		h.ids = slices.DeleteFunc(h.ids, func(a string) bool { return strings.EqualFold(a, id) })
		if v != nil {
			h.ids = append(h.ids, id)
		}
	}
	slices.Sort(h.ids)
	return nil
}

// identities knows miReader and miOther.
type identities struct{}

func (identities) FindManagedIdentity(s entra.IdentitySelector) (entra.App, bool) {
	for _, id := range []string{miReader, miOther} {
		if strings.EqualFold(s.ResourceID, id) {
			return entra.App{ClientID: "client-of-" + id[strings.LastIndex(id, "/")+1:], Tenant: tenantID}, true
		}
	}
	return entra.App{}, false
}

// computeHandler has one scale set and RBAC for three principals: mic
// (both roles on the node resource group, a managed identity), vmc (only
// Virtual Machine Contributor) and oid (nothing on compute).
func computeHandler(t *testing.T) (*Handler, *holder, *decisionlog.Log) {
	t.Helper()
	claims := func(who string, mi bool) *entra.Claims {
		c := &entra.Claims{Version: "1.0", Audience: "https://management.azure.com/", TenantID: tenantID, AppID: "app-" + who, ObjectID: who, Raw: map[string]any{}}
		if mi {
			c.Raw["xms_mirid"] = "/subscriptions/x/" + who
		}
		return c
	}
	dir := fakeDirectory{"mic": claims("mic", true), "vmc": claims("vmc", false), "arm": claims(oid, false)}
	log := &decisionlog.Log{}
	h, err := New(Options{Directory: dir, Identities: identities{}, Decisions: log})
	require.NoError(t, err)
	hold := &holder{}
	require.NoError(t, h.AddScaleSet(ScaleSet{Subscription: sub, ResourceGroup: nodeRG, Name: vmss, Location: "westus2", Identity: hold}))
	rgScope := "/subscriptions/" + sub + "/resourceGroups/" + nodeRG
	for _, ra := range []RoleAssignment{
		{PrincipalID: "mic", Role: RoleVMContributor, Scope: rgScope},
		{PrincipalID: "mic", Role: RoleManagedIdentityOperator, Scope: strings.ToLower(rgScope)},
		{PrincipalID: "vmc", Role: RoleVMContributor, Scope: rgScope},
	} {
		require.NoError(t, h.AssignRole(ra))
	}
	return h, hold, log
}

func TestScaleSetIdentity(t *testing.T) {
	path := "/subscriptions/" + sub + "/resourceGroups/" + nodeRG + "/providers/Microsoft.Compute/virtualMachineScaleSets/" + vmss
	id := strings.TrimPrefix(path, "")
	patch := func(ids map[string]any) string {
		b, _ := json.Marshal(map[string]any{"identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": ids}})
		return string(b)
	}
	tests := []struct {
		name, method, path, token, body string
		status                          int
		code, msg                       string
		cause                           string
		assigned                        []string
	}{
		{name: "read", method: "GET", path: path, token: "mic", status: 200},
		{name: "read, case of literal segments", method: "GET", path: strings.Replace(path, "resourceGroups", "resourcegroups", 1), token: "mic", status: 200},
		{name: "assign", method: "PATCH", path: path, token: "mic", body: patch(map[string]any{miReader: map[string]any{}}), status: 200, assigned: []string{miReader}},
		{name: "no role on compute", method: "PATCH", path: path, token: "arm", body: patch(map[string]any{miReader: map[string]any{}}), status: 403,
			code: CodeAuthorizationFailed, cause: "gateway",
			msg: "The client 'app-" + oid + "' with object id '" + oid + "' does not have authorization to perform action 'Microsoft.Compute/virtualMachineScaleSets/write' over scope '" + id + "' or the scope is invalid. If access was recently granted, please refresh your credentials."},
		{name: "virtual machine contributor only: linked authorization", method: "PATCH", path: path, token: "vmc", body: patch(map[string]any{miReader: map[string]any{}, miOther: map[string]any{}}), status: 403,
			code: CodeLinkedAuthorizationFailed, cause: "gateway",
			msg: "The client 'app-vmc' with object id 'vmc' has permission to perform action 'Microsoft.Compute/virtualMachineScaleSets/write' on scope '" + id + "'; however, it does not have permission to perform action 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action' on the linked scope(s) '" + miReader + "," + miOther + "' or the linked scope(s) are invalid."},
		{name: "managed identity caller named by object id; identity outside its scope", method: "PATCH", path: path, token: "mic", body: patch(map[string]any{miOther: map[string]any{}}), status: 403,
			code: CodeLinkedAuthorizationFailed, cause: "gateway",
			msg: "The client 'mic' with object id 'mic' has permission to perform action 'Microsoft.Compute/virtualMachineScaleSets/write' on scope '" + id + "'; however, it does not have permission to perform action 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action' on the linked scope(s) '" + miOther + "' or the linked scope(s) are invalid."},
		{name: "unknown identity", method: "PATCH", path: path, token: "mic", body: patch(map[string]any{miGhost: map[string]any{}}), status: 400,
			code: CodeFailedIdentityOperation, cause: "service",
			msg: "Identity operation for resource '" + id + "' failed with error 'Failed to perform resource identity operation. Status: 'BadRequest'. Response: '{\"error\":{\"code\":\"BadRequest\",\"message\":\"Resource '" + miGhost + "' was not found.\"}}'.'."},
		{name: "no such scale set", method: "GET", path: path + "x", token: "mic", status: 404, code: CodeResourceNotFound, cause: "gateway",
			msg: "The Resource 'Microsoft.Compute/virtualMachineScaleSets/" + vmss + "x' under resource group '" + nodeRG + "' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"},
		{name: "reader of nothing: no existence leak", method: "GET", path: path + "x", token: "arm", status: 403, code: CodeAuthorizationFailed, cause: "gateway",
			msg: "The client 'app-" + oid + "' with object id '" + oid + "' does not have authorization to perform action 'Microsoft.Compute/virtualMachineScaleSets/read' over scope '" + id + "x' or the scope is invalid. If access was recently granted, please refresh your credentials."},
		{name: "bad body", method: "PATCH", path: path, token: "mic", body: "{", status: 400, code: CodeInvalidRequestContent, cause: "gateway"},
		{name: "no token", method: "GET", path: path, status: 401, code: CodeAuthenticationFailed, cause: "gateway", msg: "Authentication failed. The 'Authorization' header is missing."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, hold, log := computeHandler(t)
			req := httptest.NewRequest(tc.method, "https://management.azure.com"+tc.path+"?api-version=2019-12-01", strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
			entries := log.Entries(decisionlog.Filter{Service: Service})
			require.Len(t, entries, 1)
			if tc.status == http.StatusOK {
				var body scaleSetBody
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
				require.Equal(t, "Microsoft.Compute/virtualMachineScaleSets", body.Type)
				require.Equal(t, "Succeeded", body.Properties["provisioningState"])
				require.Equal(t, tc.assigned, hold.Assigned())
				if len(tc.assigned) > 0 {
					require.Equal(t, "UserAssigned", body.Identity.Type)
					require.Equal(t, "client-of-aadpodid-reader", body.Identity.UserAssignedIdentities[miReader].ClientID)
				} else {
					require.Nil(t, body.Identity)
				}
				require.Equal(t, decisionlog.Allow, entries[0].Effect)
				return
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
			require.Equal(t, tc.code, e.Error.Code)
			if tc.msg != "" {
				require.Equal(t, tc.msg, e.Error.Message)
			}
			require.Equal(t, tc.cause, rec.Header().Get("x-ms-failure-cause"))
			require.Empty(t, hold.Assigned(), "a refused update changes nothing")
			require.Equal(t, decisionlog.Deny, entries[0].Effect)
			require.Equal(t, tc.code, entries[0].Code)
		})
	}
}

func TestScaleSetUnassign(t *testing.T) {
	h, hold, _ := computeHandler(t)
	hold.ids = []string{miReader}
	path := "/subscriptions/" + sub + "/resourceGroups/" + nodeRG + "/providers/Microsoft.Compute/virtualMachineScaleSets/" + vmss + "?api-version=2019-12-01"
	for _, body := range []string{`{"identity":{"type":"UserAssigned","userAssignedIdentities":{"` + miReader + `":null}}}`, `{"identity":{"type":"None"}}`} {
		hold.ids = []string{miReader}
		req := httptest.NewRequest("PATCH", "https://management.azure.com"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer vmc")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, 200, rec.Code, "removing needs no assign/action: %s", rec.Body.String())
		require.Empty(t, hold.Assigned(), body)
	}
}

func TestActionMatches(t *testing.T) {
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", ActionIdentityAssign, true},
		{"Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/assign/action", true},
		{"Microsoft.ManagedIdentity/userAssignedIdentities/*/read", "Microsoft.ManagedIdentity/userAssignedIdentities/read", true},
		{"Microsoft.Compute/virtualMachineScaleSets/*", ActionScaleSetWrite, true},
		{"microsoft.compute/VIRTUALMACHINESCALESETS/*", ActionScaleSetWrite, true},
		{"Microsoft.Compute/virtualMachineScaleSets/*", ActionIdentityAssign, false},
		{"*", ActionIdentityAssign, true},
		{"*/read", ActionScaleSetRead, true},
		{"*/read", ActionScaleSetWrite, false},
		{"Microsoft.Compute/virtualMachineScaleSets/read", "Microsoft.Compute/virtualMachineScaleSets/readx", false},
		{"Microsoft.Compute/virtualMachineScaleSets.read", "Microsoft.Compute/virtualMachineScaleSetsXread", false},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, actionMatches(tc.pattern, tc.action), "%s ~ %s", tc.pattern, tc.action)
	}
}

func TestRoleAssignmentFixtures(t *testing.T) {
	h, _, _ := computeHandler(t)
	doc := fmt.Sprintf(`tenants:
  - id: %s
    apps: [{clientId: x}]
    roleAssignments:
      - {assignee: 3c3c3c3c-3c3c-43c3-83c3-3c3c3c3c3c3c, role: Managed Identity Operator, scope: /subscriptions/%s/resourceGroups/%s}
`, tenantID, sub, nodeRG)
	require.NoError(t, h.LoadFixtureYAML("lab.yaml", []byte(doc)))
	principal := AssignmentFor(tenantID, "3c3c3c3c-3c3c-43c3-83c3-3c3c3c3c3c3c", "", "").PrincipalID
	require.True(t, h.rbac.allowed(principal, ActionIdentityAssign, miReader))
	require.False(t, h.rbac.allowed(principal, ActionScaleSetWrite, miReader))
	for _, bad := range []string{
		"tenants:\n  - id: t\n    roleAssignments:\n      - {assignee: a, role: Owner, scope: /subscriptions/s}\n",
		"tenants:\n  - id: t\n    roleAssignments:\n      - {role: Reader, scope: /subscriptions/s}\n",
		"tenants:\n  - id: t\n    roleAssignments:\n      - {assignee: a, role: Reader, scope: /subscriptions/s, extra: 1}\n",
		"tenants:\n  - id: t\n    roleAssignments:\n      - {assignee: a, role: Reader, scope: resourceGroups/x}\n",
	} {
		require.ErrorContains(t, h.LoadFixtureYAML("bad.yaml", []byte(bad)), "bad.yaml:4", bad)
	}
}

func FuzzParseIdentityPatch(f *testing.F) {
	for _, s := range []string{`{"identity":{"type":"UserAssigned","userAssignedIdentities":{"a":{},"b":null}}}`, `{}`, `{"identity":null}`, `[`, `{"identity":{"userAssignedIdentities":{"a":1}}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		typ, add, remove, err := parseIdentityPatch([]byte(body))
		if err != nil {
			require.Empty(t, add)
			require.Empty(t, remove)
			require.Empty(t, typ)
			return
		}
		require.True(t, slices.IsSorted(add) && slices.IsSorted(remove))
		for _, a := range add {
			require.NotContains(t, remove, a)
		}
	})
}
