package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/idlab/idlab/components/irsawebhook"
)

func irsaWebhookCommand() command {
	return command{
		name:    "irsa-webhook",
		group:   inClusterGroup,
		summary: "run the IRSA mutating webhook in a cluster (the lab deploys it in eks)",
		run:     runIRSAWebhook,
	}
}

// runIRSAWebhook serves the webhook with the in-cluster API credentials
// and the certificate the lab mounts, until the pod is stopped.
func runIRSAWebhook(ctx context.Context, env *cliEnv, args []string) error {
	fs, addr, certDir := webhookFlags(env, "irsa-webhook", irsawebhook.ContainerPort, irsawebhook.CertDir)
	region := fs.String("aws-default-region", "", "inject AWS_REGION and AWS_DEFAULT_REGION (upstream's flag)")
	regional := fs.Bool("sts-regional-endpoint", false, "inject AWS_STS_REGIONAL_ENDPOINTS=regional (upstream's flag)")
	var cc irsawebhook.ContainerCredentialsOptions
	fs.StringVar(&cc.ConfigFile, "watch-container-credentials-config", "", "the EKS Pod Identity identities file to watch (upstream's flag); empty: no container credentials")
	fs.StringVar(&cc.Audience, "container-credentials-audience", irsawebhook.DefaultContainerCredentialsAudience, "token audience for container credentials")
	fs.StringVar(&cc.MountPath, "container-credentials-token-mount-path", irsawebhook.DefaultContainerCredentialsMountPath, "where the container credentials token is mounted")
	fs.StringVar(&cc.VolumeName, "container-credentials-token-volume-name", irsawebhook.DefaultContainerCredentialsVolumeName, "the container credentials token volume")
	fs.StringVar(&cc.TokenPath, "container-credentials-token-path", irsawebhook.DefaultContainerCredentialsTokenPath, "the token's file name in its volume")
	fs.StringVar(&cc.FullURI, "container-credentials-full-uri", irsawebhook.DefaultContainerCredentialsFullURI, "AWS_CONTAINER_CREDENTIALS_FULL_URI for mutated containers")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cert, cs, err := inCluster(*certDir)
	if err != nil {
		return err
	}
	// JSON: scenarios read its admission lines back (irsawebhook.AdmissionLog).
	log := slog.New(slog.NewJSONHandler(env.stderr, nil))
	srv, err := irsawebhook.NewServer(ctx, irsawebhook.ServerOptions{
		Addr:        *addr,
		Certificate: &cert,
		Handler:     irsawebhook.Options{Client: cs, Logger: log, Region: *region, RegionalSTS: *regional, ContainerCredentials: cc},
	})
	if err != nil {
		return err
	}
	log.Info("irsa webhook serving", "addr", *addr, "region", *region, "container_credentials_config", cc.ConfigFile)
	<-ctx.Done()
	return srv.Close()
}

// inCluster loads a webhook's serving certificate from certDir (the lab's
// kubernetes.io/tls Secret) and makes a client with the pod's in-cluster
// credentials.
func inCluster(certDir string) (tls.Certificate, *kubernetes.Clientset, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(certDir, corev1.TLSCertKey), filepath.Join(certDir, corev1.TLSPrivateKeyKey))
	if err != nil {
		return cert, nil, fmt.Errorf("serving certificate: %w", err)
	}
	cs, err := inClusterClient()
	return cert, cs, err
}
