package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// imdsBase is where a pod reaches Azure's instance metadata service (on
// AKS with AAD Pod Identity, NMI answers it for pods).
var imdsBase = "http://169.254.169.254"

// runAzureMI is `probe az-mi-blob-get ACCOUNT CONTAINER BLOB [CLIENT_ID]`:
// azidentity's ManagedIdentityCredential with its default options (its
// IMDS retries included), the user-assigned identity CLIENT_ID when given,
// then Get Blob, as an unmodified application under AAD Pod Identity.
func runAzureMI(ctx context.Context, args []string) probe.Result {
	if len(args) != 4 && len(args) != 5 {
		return probe.Result{ErrorCode: "UsageError", ErrorMessage: "az-mi-blob-get ACCOUNT CONTAINER BLOB [CLIENT_ID]"}
	}
	var opts *azidentity.ManagedIdentityCredentialOptions
	if len(args) == 5 {
		opts = &azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(args[4])}
	}
	cred, err := azidentity.NewManagedIdentityCredential(opts)
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
	}
	c, err := azblob.NewClient("https://"+args[1]+".blob.core.windows.net/", cred, nil)
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
	}
	resp, err := c.DownloadStream(ctx, args[2], args[3], nil)
	if err != nil {
		return azureError(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return azureError(err)
	}
	return probe.Result{OK: true, Output: string(b)}
}

// imdsToken is `probe imds-token RESOURCE [CLIENT_ID]`: one token request
// to the metadata endpoint, as IMDS's documentation shows it with curl
// (Metadata: true, api-version 2018-02-01), with no retry. Output is the
// status and, for a token, its aud, appid and tid; ErrorCode the status
// otherwise, ErrorMessage the body as it came (NMI's refusals are text).
func imdsToken(ctx context.Context, args []string) probe.Result {
	if len(args) != 1 && len(args) != 2 {
		return probe.Result{ErrorCode: "UsageError", ErrorMessage: "imds-token RESOURCE [CLIENT_ID]"}
	}
	q := url.Values{"api-version": {"2018-02-01"}, "resource": {args[0]}}
	if len(args) == 2 {
		q.Set("client_id", args[1])
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, imdsBase+"/metadata/identity/oauth2/token?"+q.Encode(), nil)
	if err != nil {
		return probe.Result{ErrorCode: "UsageError", ErrorMessage: err.Error()}
	}
	req.Header.Set("Metadata", "true")
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return probe.Result{ErrorCode: "ClientError", ErrorMessage: err.Error()}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return imdsTokenResult(resp.StatusCode, body)
}

// imdsTokenResult reads a token endpoint's answer.
func imdsTokenResult(status int, body []byte) probe.Result {
	code := strconv.Itoa(status)
	if status != http.StatusOK {
		return probe.Result{Output: code, ErrorCode: code, ErrorMessage: string(body)}
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return probe.Result{Output: code, ErrorCode: "ClientError", ErrorMessage: fmt.Sprintf("no access_token in %q", strings.TrimSpace(string(body)))}
	}
	claims, err := describeToken(tok.AccessToken)
	if err != nil {
		return probe.Result{Output: code, ErrorCode: "ClientError", ErrorMessage: err.Error()}
	}
	return probe.Result{OK: true, Output: code + " " + claims}
}
