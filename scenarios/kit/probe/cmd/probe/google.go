package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	"cloud.google.com/go/compute/metadata"
	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// runGoogle makes the Google calls with Application Default Credentials,
// which in a GKE pod come from the metadata server, as in any application.
func runGoogle(ctx context.Context, args []string) probe.Result {
	var res probe.Result
	var err error
	switch {
	case args[0] == "gcp-email" && len(args) == 1:
		res.Output, err = metadata.EmailWithContext(ctx, "default")
	case args[0] == "gcs-get" && len(args) == 3:
		var c *storage.Client
		if c, err = storage.NewClient(ctx); err == nil {
			defer c.Close()
			var r *storage.Reader
			if r, err = c.Bucket(args[1]).Object(args[2]).NewReader(ctx); err == nil {
				var b []byte
				b, err = io.ReadAll(io.LimitReader(r, 1<<20))
				_ = r.Close()
				res.Output = string(b)
			}
		}
	default:
		return probe.Result{ErrorCode: "UsageError", ErrorMessage: fmt.Sprintf("unknown call %q", args)}
	}
	if err != nil {
		return googleError(err)
	}
	res.OK = true
	return res
}

// googleError reports a Google call's failure by its code: HTTP<status>
// from a Google API, Metadata<status> from the metadata server (its 404
// arrives as metadata.NotDefinedError),
// NoDefaultCredentials when no source of Application Default Credentials
// applied (golang.org/x/oauth2/google's and cloud.google.com/go/auth's
// "could not find default credentials"), ConnectionRefused when a server
// (the metadata server) refused the connection; anything else is
// ClientError.
func googleError(err error) probe.Result {
	r := probe.Result{ErrorCode: "ClientError", ErrorMessage: err.Error()}
	var ge *googleapi.Error
	var me *metadata.Error
	var nd metadata.NotDefinedError
	switch {
	case errors.As(err, &ge):
		r.ErrorCode = fmt.Sprintf("HTTP%d", ge.Code)
	case errors.As(err, &me):
		r.ErrorCode = fmt.Sprintf("Metadata%d", me.Code)
	case errors.As(err, &nd):
		// The metadata client's name for a 404 (cloud.google.com/go/compute/metadata
		// v0.10.0 metadata.go getETagWithSubClient: res.StatusCode == http.StatusNotFound).
		r.ErrorCode = "Metadata404"
	case strings.Contains(err.Error(), "could not find default credentials"):
		r.ErrorCode = "NoDefaultCredentials"
	case errors.Is(err, syscall.ECONNREFUSED):
		r.ErrorCode = "ConnectionRefused"
	}
	return r
}
