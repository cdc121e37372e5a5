// Command gtoken is gtoken's token writer as the lab's gtoken image runs
// it (/gtoken --file=... --refresh=...): see components/gtokenwriter. It
// is its own small binary because the webhook runs it under upstream's
// 20m CPU and 50Mi memory limits.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"cloud.google.com/go/compute/metadata"

	"github.com/idlab/idlab/components/gtokenwriter"
)

// tokenFile is gtoken's default: components/gtoken TokenFile (not
// imported, which would bring the Kubernetes API types into this binary).
const tokenFile = "/var/run/secrets/aws/token/gtoken"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet("gtoken", flag.ContinueOnError)
	o := gtokenwriter.Options{Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	fs.StringVar(&o.File, "file", tokenFile, "where to write the token")
	fs.BoolVar(&o.Refresh, "refresh", false, "keep refreshing the token")
	fs.StringVar(&o.Audience, "audience", gtokenwriter.DefaultAudience, "audience of the ID token")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "gtoken: unexpected arguments %q\n", fs.Args())
		os.Exit(2)
	}
	if err := gtokenwriter.Run(ctx, metadata.GetWithContext, o); err != nil {
		fmt.Fprintf(os.Stderr, "gtoken: %v\n", err)
		os.Exit(1)
	}
}
