package cloud

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/components/aadpodidentity"
	"github.com/idlab/idlab/internal/decisionlog"
)

const aadpodidReader = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/MC_idlab_aks_westus2/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aadpodid-reader"

// imdsAt sends the SDK's 169.254.169.254 requests to the node's IMDS URL.
type imdsAt string

func (u imdsAt) Do(req *http.Request) (*http.Response, error) {
	to, err := url.Parse(string(u))
	if err != nil {
		return nil, err
	}
	req.URL.Scheme, req.URL.Host = to.Scheme, to.Host
	return http.DefaultTransport.RoundTrip(req)
}

// TestAzureNodeIMDS: the aks node's IMDS, with the lab's Azure fixture,
// has no identity until the admin API assigns aadpodid-reader (as MIC
// would through ARM); then azidentity's ManagedIdentityCredential gets its
// token on both ports and the real azblob client reads the identity's
// container through the cloud plane, and nothing else.
func TestAzureNodeIMDS(t *testing.T) {
	c, _ := startCloudFor(t, eksIssuer, labFixture(t), func(cfg *Config) {
		cfg.AzureFixtures = "../../fixtures/azure"
		cfg.IMDS = []IMDSConfig{{Name: "aks", Cloud: IMDSCloudAzure, VM: "aks-nodepool1_0"}}
	})
	node, bridge := c.IMDSURLs("aks")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	status, body := adminDo(t, c, http.MethodGet, "/_idlab/imds/aks", "")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"identity":{"type":"None"}}`, body)
	req, err := http.NewRequest(http.MethodGet, node+"/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://storage.azure.com/", nil)
	require.NoError(t, err)
	req.Header.Set("Metadata", "true")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.JSONEq(t, `{"error":"invalid_request","error_description":"Identity not found"}`, string(raw))

	status, body = adminDo(t, c, http.MethodPatch, "/_idlab/imds/aks", `{"identity":{"userAssignedIdentities":{"`+aadpodidReader+`":{}}}}`)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"clientId":"1a1a1a1a-1a1a-41a1-81a1-1a1a1a1a1a1a"`)

	for i, u := range []string{node, bridge} {
		cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
			// MSAL caches tokens process-wide: a client ID on the second
			// round makes it ask IMDS again.
			ID:            []azidentity.ManagedIDKind{nil, azidentity.ClientID("1a1a1a1a-1a1a-41a1-81a1-1a1a1a1a1a1a")}[i],
			ClientOptions: azcore.ClientOptions{Transport: imdsAt(u), Retry: policy.RetryOptions{MaxRetries: -1}},
		})
		require.NoError(t, err)
		blob, err := azblob.NewClient("https://idlab.blob.core.windows.net/", cred, &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
			Transport: c.Client(), Retry: policy.RetryOptions{MaxRetries: -1}}})
		require.NoError(t, err)
		dl, err := blob.DownloadStream(ctx, "aadpodid-data", "hello.txt", nil)
		require.NoError(t, err, u)
		got, _ := io.ReadAll(dl.Body)
		dl.Body.Close()
		require.Equal(t, "hello from aadpodid-data", string(got))
		_, err = blob.DownloadStream(ctx, "aadpodid-b-data", "secret.txt", nil)
		require.ErrorContains(t, err, "AuthorizationPermissionMismatch")
	}
	imds := c.Decisions.Entries(decisionlog.Filter{Service: "azureimds"})
	require.Len(t, imds, 3, "the refusal and one token request per port")
	require.Equal(t, decisionlog.Deny, imds[0].Effect)
	require.Equal(t, "aks-nodepool1_0", imds[2].Resource)
	require.Equal(t, aadpodidReader, imds[2].Detail["identity"])
}

func TestParseAzureIMDSFlag(t *testing.T) {
	for _, tc := range []struct {
		flag string
		want IMDSConfig
		err  string
	}{
		{flag: "name=aks,cloud=azure,port=18104,bridge-port=18105,vm=aks-vm", want: IMDSConfig{Name: "aks", Cloud: IMDSCloudAzure, Port: 18104, BridgePort: 18105, VM: "aks-vm"}},
		{flag: "name=aks,cloud=azure,port=1,bridge-port=2,vm=v_0,resource-group=MC_rg,identity=/a,identity=/b",
			want: IMDSConfig{Name: "aks", Cloud: IMDSCloudAzure, Port: 1, BridgePort: 2, VM: "v_0", ResourceGroup: "MC_rg", Identities: []string{"/a", "/b"}}},
		{flag: "name=eks,port=1,bridge-port=2,identity=/a", err: "an azure node's"},
		{flag: "name=aks,cloud=gcp,port=1,bridge-port=2", err: "want aws or azure"},
		{flag: "name=aks,cloud=azure,port=1,bridge-port=2,role=arn:aws:iam::1:role/x", err: "an azure node has none"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			got, err := ParseIMDSFlag(tc.flag)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			again, err := ParseIMDSFlag(got.String())
			require.NoError(t, err)
			require.Equal(t, got, again, "String is what ParseIMDSFlag reads")
		})
	}
}

const kubeletID = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/MC_idlab_aks_westus2/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks-agentpool"

// TestMICAssignsThroughARM: with the lab's Azure fixture, the aks node
// has the kubelet identity from the start; MIC's clients (components/
// aadpodidentity IMDS and ARM) get its Resource Manager token from the
// node's IMDS and patch the node's scale set, which puts aadpodid-reader
// on the node: IMDS then hands out its token, which reads its container.
// Without Managed Identity Operator (a principal holding only Virtual
// Machine Contributor) ARM refuses with LinkedAuthorizationFailed and
// nothing changes.
func TestMICAssignsThroughARM(t *testing.T) {
	c, _ := startCloudFor(t, eksIssuer, labFixture(t), func(cfg *Config) {
		cfg.AzureFixtures = "../../fixtures/azure"
		cfg.IMDS = []IMDSConfig{{Name: "aks", Cloud: IMDSCloudAzure, VM: "aks-nodepool1-x-vmss_0", ResourceGroup: "MC_idlab_aks_westus2", Identities: []string{kubeletID}}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, _ := c.IMDSURLs("aks")
	imds := aadpodidentity.IMDS{BaseURL: node}
	_, err := imds.Token(ctx, "", "https://storage.azure.com/")
	require.NoError(t, err, "only the kubelet identity: IMDS picks it")
	_, err = imds.Token(ctx, "1a1a1a1a-1a1a-41a1-81a1-1a1a1a1a1a1a", "https://storage.azure.com/")
	require.ErrorContains(t, err, `Status Code = '400'. Response body: {"error":"invalid_request","error_description":"Identity not found"}`)

	arm := aadpodidentity.ARM{BaseURL: "https://management.azure.com", Client: c.Client(), Token: func(ctx context.Context) (string, error) {
		tok, err := imds.Token(ctx, "3c3c3c3c-3c3c-43c3-83c3-3c3c3c3c3c3c", aadpodidentity.ARMResource)
		return tok.AccessToken, err
	}}
	const sub, rg, vmss = "00000000-0000-0000-0000-000000000000", "MC_idlab_aks_westus2", "aks-nodepool1-x-vmss"
	require.NoError(t, arm.UpdateIdentities(ctx, sub, rg, vmss, []string{aadpodidReader}, nil))
	ids, err := arm.UserAssigned(ctx, sub, rg, vmss)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{kubeletID, aadpodidReader}, ids)
	tok, err := imds.Token(ctx, "1a1a1a1a-1a1a-41a1-81a1-1a1a1a1a1a1a", "https://storage.azure.com/")
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://idlab.blob.core.windows.net/aadpodid-data/hello.txt", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("x-ms-version", "2021-12-02")
	resp, err := c.Client().Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, "hello from aadpodid-data", string(body))

	// The counterpart: the reader identity's own token holds no role on
	// compute.
	readerARM := arm
	readerARM.Token = func(ctx context.Context) (string, error) {
		tok, err := imds.Token(ctx, "1a1a1a1a-1a1a-41a1-81a1-1a1a1a1a1a1a", aadpodidentity.ARMResource)
		return tok.AccessToken, err
	}
	err = readerARM.UpdateIdentities(ctx, sub, rg, vmss, nil, []string{kubeletID})
	var ae *aadpodidentity.ARMError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "AuthorizationFailed", ae.Code)
	require.NoError(t, arm.UpdateIdentities(ctx, sub, rg, vmss, nil, []string{aadpodidReader}))
	_, err = imds.Token(ctx, "1a1a1a1a-1a1a-41a1-81a1-1a1a1a1a1a1a", "https://storage.azure.com/")
	require.ErrorContains(t, err, "Identity not found", "removed from the scale set, gone from the node")
	arm2 := c.Decisions.Entries(decisionlog.Filter{Service: "azurearm"})
	require.NotEmpty(t, arm2)
}

// nmiCluster is one bound pod at 127.0.0.1 for NMI.
type nmiCluster struct {
	assigned []aadpodidentity.AzureAssignedIdentity
}

func (nmiCluster) PodByIP(context.Context, string) (aadpodidentity.PodInfo, error) {
	return aadpodidentity.PodInfo{Namespace: "idlab-aadpodid", Name: "bound"}, nil
}
func (c nmiCluster) AssignedIdentities(context.Context) ([]aadpodidentity.AzureAssignedIdentity, error) {
	return c.assigned, nil
}
func (nmiCluster) Exceptions(context.Context, string) ([]aadpodidentity.AzurePodIdentityException, error) {
	return nil, nil
}

// TestNMIServesAzidentity: the unmodified azidentity ManagedIdentityCredential
// (MSAL's IMDS client) takes NMI's answer, the node IMDS's token re-encoded
// as upstream's msiResponse, and azblob reads the identity's container.
func TestNMIServesAzidentity(t *testing.T) {
	c, _ := startCloudFor(t, eksIssuer, labFixture(t), func(cfg *Config) {
		cfg.AzureFixtures = "../../fixtures/azure"
		cfg.IMDS = []IMDSConfig{{Name: "aks", Cloud: IMDSCloudAzure, VM: "aks-nodepool1-x-vmss_0", Identities: []string{kubeletID, aadpodidReader}}}
	})
	node, _ := c.IMDSURLs("aks")
	ref := aadpodidentity.AzureIdentity{Spec: aadpodidentity.AzureIdentitySpec{ClientID: "1a1a1a1a-1a1a-41a1-81a1-1a1a1a1a1a1a", ResourceID: aadpodidReader}}
	ref.Name, ref.Namespace = "reader", "idlab-aadpodid"
	a := aadpodidentity.AzureAssignedIdentity{Spec: aadpodidentity.AzureAssignedIdentitySpec{AzureIdentityRef: &ref, Pod: "bound", PodNamespace: "idlab-aadpodid"},
		Status: aadpodidentity.AzureAssignedIdentityStatus{Status: aadpodidentity.AssignedIDAssigned}}
	n, err := aadpodidentity.NewNMI(aadpodidentity.NMIOptions{Cluster: nmiCluster{[]aadpodidentity.AzureAssignedIdentity{a}}, Tokens: aadpodidentity.IMDS{BaseURL: node},
		MetadataHeaderRequired: true, Retry: aadpodidentity.Retry{AttemptsForCreated: 1, AttemptsForAssigned: 1}})
	require.NoError(t, err)
	nmi := httptest.NewServer(n)
	defer nmi.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// By resource ID (msi_res_id): MSAL caches tokens process-wide, and
	// TestAzureNodeIMDS's, of another lab's Entra, are cached under no ID
	// and under the client ID.
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ResourceID(aadpodidReader),
		ClientOptions: azcore.ClientOptions{Transport: imdsAt(nmi.URL), Retry: policy.RetryOptions{MaxRetries: -1}}})
	require.NoError(t, err)
	blob, err := azblob.NewClient("https://idlab.blob.core.windows.net/", cred, &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: c.Client(), Retry: policy.RetryOptions{MaxRetries: -1}}})
	require.NoError(t, err)
	dl, err := blob.DownloadStream(ctx, "aadpodid-data", "hello.txt", nil)
	require.NoError(t, err)
	got, _ := io.ReadAll(dl.Body)
	dl.Body.Close()
	require.Equal(t, "hello from aadpodid-data", string(got), "two identities on the node: NMI asked IMDS for the pod's by client ID")
	ds := c.Decisions.Entries(decisionlog.Filter{Service: "azureimds"})
	require.NotEmpty(t, ds)
	require.Equal(t, "1a1a1a1a-1a1a-41a1-81a1-1a1a1a1a1a1a", ds[len(ds)-1].Detail["clientId"])
}
