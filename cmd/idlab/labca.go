package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/idlab/idlab/components/labca"
)

func labCAWebhookCommand() command {
	return command{
		name:    "lab-ca-webhook",
		group:   inClusterGroup,
		summary: "run the lab CA webhook and its bundle publisher in a cluster (the lab deploys it in every cluster)",
		run:     runLabCAWebhook,
	}
}

// runLabCAWebhook serves the webhook with the certificate the lab mounts
// and publishes the bundle it mounts into every labelled namespace, until
// the pod is stopped.
func runLabCAWebhook(ctx context.Context, env *cliEnv, args []string) error {
	fs, addr, certDir := webhookFlags(env, "lab-ca-webhook", labca.ContainerPort, labca.CertDir)
	bundleDir := fs.String("bundle-dir", labca.SourceDir, "directory holding "+labca.BundleFile+" and "+labca.LabCAFile)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	b, err := readBundle(*bundleDir)
	if err != nil {
		return err
	}
	cert, cs, err := inCluster(*certDir)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(env.stderr, nil))
	pub, err := labca.NewPublisher(labca.PublisherOptions{Client: cs, Bundle: b, Logger: log})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pubDone := make(chan error, 1)
	go func() { pubDone <- pub.Run(ctx) }()
	err = serveTLS(ctx, env, *addr, cert, labca.New(labca.Options{Logger: log}))
	cancel()
	return errors.Join(err, <-pubDone)
}

// readBundle reads the bundle's two files from dir.
func readBundle(dir string) (labca.Bundle, error) {
	all, err := os.ReadFile(filepath.Join(dir, labca.BundleFile))
	if err != nil {
		return labca.Bundle{}, fmt.Errorf("lab CA bundle: %w", err)
	}
	lab, err := os.ReadFile(filepath.Join(dir, labca.LabCAFile))
	if err != nil {
		return labca.Bundle{}, fmt.Errorf("lab CA bundle: %w", err)
	}
	if len(all) == 0 || len(lab) == 0 {
		return labca.Bundle{}, fmt.Errorf("lab CA bundle in %s is empty", dir)
	}
	return labca.Bundle{All: all, LabCA: lab}, nil
}
