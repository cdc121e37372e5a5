package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// server is an http.Server with the call that runs it (its ListenAndServe,
// ListenAndServeTLS or Serve on a listener).
type server struct {
	*http.Server
	start func() error
}

// runServers runs servers until one of them stops or ctx ends; then it
// shuts them all down, giving requests in flight 5 s. An in-cluster
// component's serving subcommands end with it.
func runServers(ctx context.Context, servers ...server) error {
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.start() }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, s := range servers {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.Shutdown(shutdown) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// inClusterClient is the Kubernetes client of a component running in a
// pod, with its service account's credentials. Its rate limit is raised
// from client-go's default 5 QPS (burst 10): the GKE metadata server
// then asked the API for the caller's pod and service account on each
// token request, and 50 pods starting at once (scenarios/storm) queued
// behind that limit past their clients' 30 s timeout in a lab run. It now
// reads them from informers but still makes a TokenRequest per new pod;
// gtoken's webhook reads a KSA per admission, and the other webhooks and
// kube2iam read the API on their caches' misses.
func inClusterClient() (*kubernetes.Clientset, error) {
	rc, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("in-cluster config: %w", err)
	}
	rc.QPS, rc.Burst = inClusterQPS, inClusterBurst
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, nil
}

// The in-cluster client's rate limit (inClusterClient).
const (
	inClusterQPS   = 100
	inClusterBurst = 200
)

// webhookFlags starts the flag set of a webhook subcommand with the flags
// every lab webhook takes: --addr (default :port) and --cert-dir.
func webhookFlags(env *cliEnv, name string, port int, certDir string) (fs *flag.FlagSet, addr, dir *string) {
	fs = env.flagSet(name)
	addr = fs.String("addr", fmt.Sprintf(":%d", port), "listen address")
	dir = fs.String("cert-dir", certDir, "directory holding tls.crt and tls.key")
	return fs, addr, dir
}

// parseFlags parses args with fs, refusing positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	return nil
}
