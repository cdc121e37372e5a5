package aadpodidentity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// ComputeAPIVersion is the Compute API version MIC's SDK speaks
// (azure-sdk-for-go services/compute/mgmt/2019-12-01).
const ComputeAPIVersion = "2019-12-01"

// ARMResource is Resource Manager's audience MIC asks IMDS for (adal's
// azureEnv.ResourceManagerEndpoint).
const ARMResource = "https://management.azure.com/"

// ARM is MIC's scale set client: GET and PATCH of the identity property
// with a bearer token.
type ARM struct {
	// BaseURL is https://management.azure.com (or a test server).
	BaseURL string
	Client  *http.Client
	// Token returns a Resource Manager token.
	Token func(ctx context.Context) (string, error)
}

// ARMError is Resource Manager's error answer.
type ARMError struct {
	Status        int
	Code, Message string
}

func (e *ARMError) Error() string {
	return fmt.Sprintf("StatusCode=%d -- Original Error: Code=%q Message=%q", e.Status, e.Code, e.Message)
}

func (a ARM) url(sub, rg, name string) string {
	return strings.TrimSuffix(a.BaseURL, "/") + "/subscriptions/" + sub + "/resourceGroups/" + rg +
		"/providers/Microsoft.Compute/virtualMachineScaleSets/" + name + "?api-version=" + ComputeAPIVersion
}

func (a ARM) do(ctx context.Context, method, u string, body []byte) ([]byte, error) {
	tok, err := a.Token(ctx)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	c := a.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		e := &ARMError{Status: resp.StatusCode}
		var doc struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(raw, &doc) == nil {
			e.Code, e.Message = doc.Error.Code, doc.Error.Message
		}
		return nil, e
	}
	return raw, nil
}

// UserAssigned lists the resource IDs of the scale set's user-assigned
// identities (upstream's GetUserMSIs).
func (a ARM) UserAssigned(ctx context.Context, sub, rg, name string) ([]string, error) {
	raw, err := a.do(ctx, http.MethodGet, a.url(sub, rg, name), nil)
	if err != nil {
		return nil, fmt.Errorf("failed to get vmss %s in resource group %s, error: %w", name, rg, err)
	}
	var vmss struct {
		Identity *struct {
			UserAssignedIdentities map[string]json.RawMessage `json:"userAssignedIdentities"`
		} `json:"identity"`
	}
	if err := json.Unmarshal(raw, &vmss); err != nil {
		return nil, fmt.Errorf("vmss %s: %w", name, err)
	}
	var ids []string
	if vmss.Identity != nil {
		for id := range vmss.Identity.UserAssignedIdentities {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// IdentityPatch is upstream's SetUserIdentities: against the identities
// the scale set has (compared in lower case), each to add that is absent
// gets {}, each to remove that is present gets null; nil when nothing
// changes. Removing every identity sets type None.
func IdentityPatch(current, add, remove []string) []byte {
	have := map[string]bool{}
	for _, id := range current {
		have[strings.ToLower(id)] = true
	}
	want := map[string]bool{}
	for _, id := range remove {
		want[strings.ToLower(id)] = false
	}
	for _, id := range add {
		want[strings.ToLower(id)] = true
	}
	changes := map[string]any{}
	left := len(have)
	for id, on := range want {
		switch {
		case on && !have[id]:
			changes[id] = map[string]any{}
			left++
		case !on && have[id]:
			changes[id] = nil
			left--
		}
	}
	if len(changes) == 0 {
		return nil
	}
	typ := "UserAssigned"
	if left == 0 {
		typ = "None"
	}
	b, _ := json.Marshal(map[string]any{"identity": map[string]any{"type": typ, "userAssignedIdentities": changes}})
	return b
}

// UpdateIdentities assigns add and removes remove on the scale set
// (upstream's UpdateUserMSI): a GET, then a PATCH when anything changes.
func (a ARM) UpdateIdentities(ctx context.Context, sub, rg, name string, add, remove []string) error {
	cur, err := a.UserAssigned(ctx, sub, rg, name)
	if err != nil {
		return err
	}
	body := IdentityPatch(cur, add, remove)
	if body == nil {
		return nil
	}
	if _, err := a.do(ctx, http.MethodPatch, a.url(sub, rg, name), body); err != nil {
		return fmt.Errorf("failed to update identities for %s in %s, error: compute.VirtualMachineScaleSetsClient#Update: Failure sending request: %w", name, rg, err)
	}
	return nil
}
