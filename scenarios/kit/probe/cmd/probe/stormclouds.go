package main

import (
	"context"
	"errors"
	"io"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// The identity storm's Google and Azure modes (scenarios/storm): like
// `probe storm`, each gets the pod's credentials once, timed as the
// exchange, then reads the pod's own object and another pod's with them,
// each read timed. A failed exchange skips the reads, which would only
// repeat it.

// newGCSClient makes the Cloud Storage client of a token source; tests
// point it at an emulator.
type newGCSClient func(ctx context.Context, ts oauth2.TokenSource) (*storage.Client, error)

// runStormGCS is `probe storm-gcs BUCKET OBJECT OTHERBUCKET OTHEROBJECT`:
// Application Default Credentials (in a GKE pod, the metadata server's
// token for the pod's Google service account), the token source's first
// Token() timed as the exchange, then Cloud Storage reads of
// BUCKET/OBJECT and OTHERBUCKET/OTHEROBJECT with that token.
func runStormGCS(ctx context.Context, args []string) probe.StormResult {
	if len(args) != 5 {
		return probe.StormResult{Exchange: probe.Result{ErrorCode: "UsageError", ErrorMessage: "storm-gcs BUCKET OBJECT OTHERBUCKET OTHEROBJECT"}}
	}
	ts, err := google.DefaultTokenSource(ctx, storage.ScopeReadOnly)
	if err != nil {
		return probe.StormResult{Exchange: probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}}
	}
	return stormGCS(ctx, ts, func(ctx context.Context, ts oauth2.TokenSource) (*storage.Client, error) {
		return storage.NewClient(ctx, option.WithTokenSource(ts))
	}, args[1], args[2], args[3], args[4])
}

// stormGCS is runStormGCS with ts and the client newClient makes.
func stormGCS(ctx context.Context, ts oauth2.TokenSource, newClient newGCSClient, bucket, object, otherBucket, otherObject string) probe.StormResult {
	var out probe.StormResult
	start := time.Now()
	tok, err := ts.Token()
	out.ExchangeMillis = millisSince(start)
	if err != nil {
		out.Exchange = googleError(err)
		return out
	}
	out.Exchange = probe.Result{OK: true}
	// The token got, and nothing else: the reads cannot exchange again.
	c, err := newClient(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		out.Own = probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
		return out
	}
	defer c.Close()
	read := func(b, o string) (probe.Result, float64) {
		start := time.Now()
		r, err := c.Bucket(b).Object(o).NewReader(ctx)
		if err != nil {
			return googleError(err), millisSince(start)
		}
		data, err := io.ReadAll(io.LimitReader(r, 1<<20))
		_ = r.Close()
		ms := millisSince(start)
		if err != nil {
			return googleError(err), ms
		}
		return probe.Result{OK: true, Output: string(data)}, ms
	}
	out.Own, out.OwnMillis = read(bucket, object)
	out.Other, out.OtherMillis = read(otherBucket, otherObject)
	return out
}

// storageScope is the scope azblob asks Entra for (azblob v1.8.3
// internal/shared/shared.go TokenScope).
const storageScope = "https://storage.azure.com/.default"

// runStormBlob is `probe storm-blob ACCOUNT CONTAINER BLOB OTHERCONTAINER
// OTHERBLOB`: azidentity's WorkloadIdentityCredential from the Azure
// Workload Identity webhook's variables, its GetToken for storage timed as
// the exchange, then Get Blob of CONTAINER/BLOB and OTHERCONTAINER/OTHERBLOB
// at https://ACCOUNT.blob.core.windows.net with the azblob client on that
// credential.
func runStormBlob(ctx context.Context, args []string) probe.StormResult {
	if len(args) != 6 {
		return probe.StormResult{Exchange: probe.Result{ErrorCode: "UsageError", ErrorMessage: "storm-blob ACCOUNT CONTAINER BLOB OTHERCONTAINER OTHERBLOB"}}
	}
	cred, err := azidentity.NewWorkloadIdentityCredential(nil)
	if err != nil {
		return probe.StormResult{Exchange: probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}}
	}
	c, err := azblob.NewClient("https://"+args[1]+".blob.core.windows.net/", cred, nil)
	if err != nil {
		return probe.StormResult{Exchange: probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}}
	}
	return stormBlob(ctx, cred, c, args[2], args[3], args[4], args[5])
}

// stormBlob is runStormBlob with cred and c, a client on cred. The
// exchange asks for the token exactly as c's bearer policy will, CAE
// enabled (azcore v1.23.3 runtime/policy_bearer_token.go,
// authenticateAndAuthorize), because azidentity caches CAE and non-CAE
// tokens apart (v1.15.0 confidential_client.go, client): the reads then
// find the exchange's token in the cache and ask Entra nothing.
func stormBlob(ctx context.Context, cred azcore.TokenCredential, c *azblob.Client, container, blob, otherContainer, otherBlob string) probe.StormResult {
	var out probe.StormResult
	start := time.Now()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{storageScope}, EnableCAE: true})
	out.ExchangeMillis = millisSince(start)
	if err != nil {
		out.Exchange = azureError(err)
		return out
	}
	out.Exchange = probe.Result{OK: true}
	out.Exchange.Output, _ = describeToken(tok.Token) // names the app; the reads show whether it is the right one
	read := func(cn, bn string) (probe.Result, float64) {
		start := time.Now()
		resp, err := c.DownloadStream(ctx, cn, bn, nil)
		if err != nil {
			r := azureError(err)
			r.RequestID = blobRequestID(err)
			return r, millisSince(start)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		ms := millisSince(start)
		var id string
		if resp.RequestID != nil {
			id = *resp.RequestID
		}
		if err != nil {
			return probe.Result{ErrorCode: "ClientError", ErrorMessage: err.Error(), RequestID: id}, ms
		}
		return probe.Result{OK: true, Output: string(data), RequestID: id}, ms
	}
	out.Own, out.OwnMillis = read(container, blob)
	out.Other, out.OtherMillis = read(otherContainer, otherBlob)
	return out
}

// blobRequestID is the x-ms-request-id of the response a blob error came
// from, which is its decision's request ID; "" when there was none.
func blobRequestID(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.RawResponse != nil {
		return re.RawResponse.Header.Get("x-ms-request-id")
	}
	return ""
}
