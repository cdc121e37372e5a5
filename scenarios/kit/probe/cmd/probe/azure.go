package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// runAzure makes the Azure calls as an unmodified application in a pod of
// the Azure Workload Identity webhook does: azidentity's
// WorkloadIdentityCredential with no options reads AZURE_CLIENT_ID,
// AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST.
//
//	probe az-token SCOPE                      the access token's aud, appid and tid in Output
//	probe az-blob-get ACCOUNT CONTAINER BLOB  Get Blob at https://ACCOUNT.blob.core.windows.net
//
// Errors: ConfigError (the credential cannot be built: no webhook
// variables), the AADSTS code of an Entra refusal, the Azure Storage error
// code of a blob refusal.
func runAzure(ctx context.Context, args []string) probe.Result {
	if !(args[0] == "az-token" && len(args) == 2 || args[0] == "az-blob-get" && len(args) == 4) {
		return probe.Result{ErrorCode: "UsageError", ErrorMessage: fmt.Sprintf("unknown call %q", args)}
	}
	cred, err := azidentity.NewWorkloadIdentityCredential(nil)
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
	}
	var res probe.Result
	if args[0] == "az-token" {
		var tok azcore.AccessToken
		if tok, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{args[1]}}); err == nil {
			res.Output, err = describeToken(tok.Token)
		}
	} else {
		var c *azblob.Client
		if c, err = azblob.NewClient("https://"+args[1]+".blob.core.windows.net/", cred, nil); err == nil {
			var resp azblob.DownloadStreamResponse
			if resp, err = c.DownloadStream(ctx, args[2], args[3], nil); err == nil {
				var b []byte
				b, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				_ = resp.Body.Close()
				res.Output = string(b)
			}
		}
	}
	if err != nil {
		return azureError(err)
	}
	res.OK = true
	return res
}

var aadstsCode = regexp.MustCompile(`AADSTS[0-9]+`)

// azureError reports Entra refusals by their AADSTS code and storage
// refusals by x-ms-error-code.
func azureError(err error) probe.Result {
	r := probe.Result{ErrorCode: "ClientError", ErrorMessage: err.Error()}
	var afe *azidentity.AuthenticationFailedError
	var re *azcore.ResponseError
	switch {
	case errors.As(err, &afe):
		r.ErrorCode = "AuthenticationFailed"
		if c := aadstsCode.FindString(err.Error()); c != "" {
			r.ErrorCode = c
		}
	case errors.As(err, &re) && re.ErrorCode != "":
		r.ErrorCode = re.ErrorCode
	}
	return r
}

// describeToken names the claims a scenario checks; the pod does not
// verify the token, the resource does.
func describeToken(tok string) (string, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", errors.New("access token is not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("access token claims: %w", err)
	}
	var c struct {
		Aud   string `json:"aud"`
		AppID string `json:"appid"`
		AZP   string `json:"azp"`
		TID   string `json:"tid"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", fmt.Errorf("access token claims: %w", err)
	}
	if c.AppID == "" {
		c.AppID = c.AZP
	}
	return "aud=" + c.Aud + " appid=" + c.AppID + " tid=" + c.TID, nil
}
