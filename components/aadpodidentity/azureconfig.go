package aadpodidentity

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// AzureConfig is the part of the node's /etc/kubernetes/azure.json
// (cloud-provider-azure's configuration) MIC reads (upstream's
// pkg/config/azureconfig.go), plus primaryScaleSetName, which the lab's
// MIC uses for nodes whose providerID is not Azure's (kind's are
// kind://...).
type AzureConfig struct {
	Cloud                       string `json:"cloud"`
	TenantID                    string `json:"tenantId"`
	ClientID                    string `json:"aadClientId"`
	ClientSecret                string `json:"aadClientSecret"`
	SubscriptionID              string `json:"subscriptionId"`
	ResourceGroupName           string `json:"resourceGroup"`
	VMType                      string `json:"vmType"`
	UseManagedIdentityExtension bool   `json:"useManagedIdentityExtension,omitempty"`
	UserAssignedIdentityID      string `json:"userAssignedIdentityID,omitempty"`
	PrimaryScaleSetName         string `json:"primaryScaleSetName,omitempty"`
}

// ParseAzureConfig reads azure.json. The lab's MIC authenticates only as
// a managed identity (useManagedIdentityExtension), the AKS default since
// managed-identity clusters: the lab's Entra has no client secrets.
func ParseAzureConfig(raw []byte) (AzureConfig, error) {
	var c AzureConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("failed to unmarshal JSON, error: %w", err)
	}
	if !c.UseManagedIdentityExtension {
		return c, fmt.Errorf("azure.json: the lab's MIC needs useManagedIdentityExtension (a service principal's aadClientSecret has no Entra in the lab to check it)")
	}
	if c.SubscriptionID == "" || c.ResourceGroupName == "" {
		return c, fmt.Errorf("azure.json: subscriptionId and resourceGroup are required")
	}
	if c.VMType != "" && !strings.EqualFold(c.VMType, "vmss") {
		return c, fmt.Errorf("azure.json: vmType %q: the lab's nodes are scale set instances (vmss)", c.VMType)
	}
	return c, nil
}

// scaleSetProviderID matches an Azure node's providerID of a scale set
// instance (azure:///subscriptions/S/resourceGroups/RG/providers/
// Microsoft.Compute/virtualMachineScaleSets/NAME/virtualMachines/N).
var scaleSetProviderID = regexp.MustCompile(`(?i)^azure:///subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/virtualMachineScaleSets/([^/]+)/virtualMachines/[^/]+$`)

// ScaleSetOf names the node's scale set: from an Azure providerID as
// upstream's isVMSS reads it, else azure.json's primaryScaleSetName.
func (c AzureConfig) ScaleSetOf(providerID string) (string, error) {
	if m := scaleSetProviderID.FindStringSubmatch(providerID); m != nil {
		return m[1], nil
	}
	if c.PrimaryScaleSetName != "" {
		return c.PrimaryScaleSetName, nil
	}
	return "", fmt.Errorf("node providerID %q is no scale set instance and azure.json names no primaryScaleSetName", providerID)
}
