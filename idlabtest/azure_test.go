package idlabtest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/idlabtest"
)

func TestNewAzureBlobClient(t *testing.T) {
	a := idlabtest.NewAzure(t, idlabtest.AzureOptions{Fixtures: []string{"../fixtures/azure/lab.yaml"}})
	const (
		tenant = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
		appA   = "a1111111-1111-4111-8111-111111111111" // Storage Blob Data Reader on team-a-data
	)
	tests := []struct {
		name, ksa, container, blob string
		want                       string
		code                       string // the blob service's x-ms-error-code
		aadsts                     string // Entra's refusal of the assertion
	}{
		{name: "federated app reads its container", ksa: "app-a", container: "team-a-data", blob: "hello.txt", want: "hello from team-a-data"},
		{name: "another team's container", ksa: "app-a", container: "team-b-data", blob: "secret.txt", code: "AuthorizationPermissionMismatch"},
		{name: "another KSA's token", ksa: "app-b", container: "team-a-data", blob: "hello.txt", aadsts: "AADSTS700213"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file, err := a.TokenFile("idlab-aks", tc.ksa)
			require.NoError(t, err)
			cred, err := a.Credential(tenant, appA, file)
			require.NoError(t, err)
			c, err := a.BlobClient("idlab", cred)
			require.NoError(t, err)
			resp, err := c.DownloadStream(context.Background(), tc.container, tc.blob, nil)
			switch {
			case tc.aadsts != "":
				var fail *azidentity.AuthenticationFailedError
				require.True(t, errors.As(err, &fail), "%v", err)
				require.Equal(t, http.StatusUnauthorized, fail.RawResponse.StatusCode, "invalid_client")
				require.ErrorContains(t, err, tc.aadsts)
				return
			case tc.code != "":
				var re *azcore.ResponseError
				require.True(t, errors.As(err, &re), "%v", err)
				require.Equal(t, tc.code, re.ErrorCode)
				require.Equal(t, http.StatusForbidden, re.StatusCode)
				return
			}
			require.NoError(t, err)
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
}

func TestStartAzureRefusesBadFixtures(t *testing.T) {
	_, err := idlabtest.StartAzure(idlabtest.AzureOptions{Fixtures: []string{"testdata/none.yaml"}})
	require.ErrorContains(t, err, "idlabtest: entra fixtures")
	_, err = idlabtest.StartAzure(idlabtest.AzureOptions{IssuerURL: "not a url"})
	require.ErrorContains(t, err, "idlabtest: issuer not a url")
}
