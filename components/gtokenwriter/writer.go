// Package gtokenwriter is gtoken's token writer, the program the gtoken
// webhook injects into pods (doitintl/gtoken cmd/gtoken at 0.4.3): it asks
// the GKE metadata server for a Google ID token of the pod's service
// account and writes it, atomically, where the AWS SDK reads its web
// identity token, once or again before it expires.
//
// It is a package of its own, with nothing but the metadata client, so
// that its binary (cmd/gtoken) is small: upstream's webhook gives the
// injected containers 20m CPU and 50Mi memory, and under those limits
// the whole idlab binary (about 90 MB, faulted in under a memory limit
// smaller than itself) took minutes to start on a node whose page cache
// did not hold it yet.
package gtokenwriter

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// DefaultAudience is gtoken's default audience for the ID token.
const DefaultAudience = "sts.amazonaws.com"

// RefreshEvery is how often a refreshing writer fetches a new token: ID
// tokens live an hour.
const RefreshEvery = 30 * time.Minute

// Fetch asks the metadata server for a token: path is relative to
// /computeMetadata/v1/ (cloud.google.com/go/compute/metadata's
// GetWithContext in the binary).
type Fetch func(ctx context.Context, path string) (string, error)

// Options are the writer's flags.
type Options struct {
	File     string // where the token is written
	Audience string // the ID token's audience
	Refresh  bool   // keep refreshing until ctx ends
	Every    time.Duration
	Log      *slog.Logger
}

// IdentityPath is the metadata path of a full-format ID token for audience.
func IdentityPath(audience string) string {
	return "instance/service-accounts/default/identity?audience=" + audience + "&format=full"
}

// Run writes the token once, or (Refresh) every Every until ctx ends. A
// failed fetch or write ends it with the error, as upstream exits.
func Run(ctx context.Context, fetch Fetch, o Options) error {
	if o.Every <= 0 {
		o.Every = RefreshEvery
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	for {
		tok, err := fetch(ctx, IdentityPath(o.Audience))
		if err != nil {
			return fmt.Errorf("google id token: %w", err)
		}
		if err := writeAtomic(o.File, tok); err != nil {
			return err
		}
		o.Log.Info("google id token written", "file", o.File)
		if !o.Refresh {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(o.Every):
		}
	}
}

// writeAtomic writes data to file by a rename, so the SDK never reads a
// half-written token.
func writeAtomic(file, data string) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		return fmt.Errorf("write token: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("write token: %w", err)
	}
	return nil
}
