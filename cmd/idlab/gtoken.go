package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"time"

	"cloud.google.com/go/compute/metadata"
	corev1 "k8s.io/api/core/v1"

	"github.com/idlab/idlab/components/gtoken"
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

// runGTokenWriter is gtoken's token writer, which the webhook injects as
// /gtoken: a Google ID token for the pod's service account from the
// metadata server, written atomically to --file, once or (--refresh) again
// before it expires.
func runGTokenWriter(ctx context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("gtoken")
	file := fs.String("file", gtoken.TokenFile, "where to write the token")
	refresh := fs.Bool("refresh", false, "keep refreshing the token")
	audience := fs.String("audience", "sts.amazonaws.com", "audience of the ID token")
	if err := parse(fs, args); err != nil {
		return err
	}
	for {
		tok, err := metadata.GetWithContext(ctx, "instance/service-accounts/default/identity?audience="+*audience+"&format=full")
		if err != nil {
			return fmt.Errorf("google id token: %w", err)
		}
		tmp := *file + ".tmp"
		if err := os.WriteFile(tmp, []byte(tok), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, *file); err != nil {
			return err
		}
		env.log.Info("google id token written", "file", *file)
		if !*refresh {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(30 * time.Minute): // ID tokens live an hour
		}
	}
}

// serveTLS serves h with cert on addr until ctx ends.
func serveTLS(ctx context.Context, env *cliEnv, addr string, cert tls.Certificate, h http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	env.log.Info("serving", "addr", addr)
	return runServers(ctx, server{srv, func() error { return srv.ListenAndServeTLS("", "") }})
}
