package main

import (
	"context"
	"crypto/tls"
	"net/http"
	"time"

	"cloud.google.com/go/compute/metadata"
	corev1 "k8s.io/api/core/v1"

	"github.com/idlab/idlab/components/gtoken"
	"github.com/idlab/idlab/components/gtokenwriter"
)

func gtokenWebhookCommand() command {
	return command{
		name:    "gtoken-webhook",
		group:   inClusterGroup,
		summary: "run the gtoken webhook in a GKE cluster (the lab deploys it in gke)",
		run:     runGTokenWebhook,
	}
}

// runGTokenWebhook serves the webhook with the in-cluster API credentials
// and the certificate the lab mounts.
func runGTokenWebhook(ctx context.Context, env *cliEnv, args []string) error {
	fs, addr, certDir := webhookFlags(env, "gtoken-webhook", gtoken.ContainerPort, gtoken.CertDir)
	var o gtoken.Options
	fs.StringVar(&o.Image, "image", gtoken.DefaultImage, "image of the injected token writer")
	pull := fs.String("pull-policy", string(corev1.PullIfNotPresent), "imagePullPolicy of the injected containers")
	fs.StringVar(&o.VolumeName, "volume-name", gtoken.VolumeName, "name of the token volume")
	fs.StringVar(&o.VolumePath, "volume-path", gtoken.MountPath, "where the containers mount the token volume")
	fs.StringVar(&o.TokenFileName, "token-file", gtoken.TokenFileName, "token file name in the volume")
	if err := parse(fs, args); err != nil {
		return err
	}
	cert, cs, err := inCluster(*certDir)
	if err != nil {
		return err
	}
	o.PullPolicy, o.Client, o.Logger = corev1.PullPolicy(*pull), cs, env.log
	h, err := gtoken.New(ctx, o)
	if err != nil {
		return err
	}
	return serveTLS(ctx, env, *addr, cert, h)
}

// runGTokenWriter is gtoken's token writer (components/gtokenwriter) as an
// idlab command; the lab's gtoken image runs the small cmd/gtoken binary.
func runGTokenWriter(ctx context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("gtoken")
	o := gtokenwriter.Options{Log: env.log}
	fs.StringVar(&o.File, "file", gtoken.TokenFile, "where to write the token")
	fs.BoolVar(&o.Refresh, "refresh", false, "keep refreshing the token")
	fs.StringVar(&o.Audience, "audience", gtokenwriter.DefaultAudience, "audience of the ID token")
	if err := parse(fs, args); err != nil {
		return err
	}
	return gtokenwriter.Run(ctx, metadata.GetWithContext, o)
}

// serveTLS serves h with cert on addr until ctx ends.
func serveTLS(ctx context.Context, env *cliEnv, addr string, cert tls.Certificate, h http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	env.log.Info("serving", "addr", addr)
	return runServers(ctx, server{srv, func() error { return srv.ListenAndServeTLS("", "") }})
}
