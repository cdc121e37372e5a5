package main

import (
	"context"
	"errors"
	"fmt"
	"io"

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

// googleError reports a Cloud Storage refusal as HTTP<status> and a
// metadata server refusal as Metadata<status>, anything else as
// ClientError.
func googleError(err error) probe.Result {
	r := probe.Result{ErrorCode: "ClientError", ErrorMessage: err.Error()}
	var ge *googleapi.Error
	var me *metadata.Error
	switch {
	case errors.As(err, &ge):
		r.ErrorCode = fmt.Sprintf("HTTP%d", ge.Code)
	case errors.As(err, &me):
		r.ErrorCode = fmt.Sprintf("Metadata%d", me.Code)
	}
	return r
}
