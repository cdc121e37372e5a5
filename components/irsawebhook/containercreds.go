package irsawebhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// EKS Pod Identity (container credentials) defaults: upstream's
// --container-credentials-* flags.
const (
	DefaultContainerCredentialsAudience   = "pods.eks.amazonaws.com"
	DefaultContainerCredentialsMountPath  = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"
	DefaultContainerCredentialsVolumeName = "eks-pod-identity-token"
	DefaultContainerCredentialsTokenPath  = "eks-pod-identity-token"
	DefaultContainerCredentialsFullURI    = "http://169.254.170.23/v1/credentials"
	// DefaultConfigPollInterval is how often the identities file is re-read.
	DefaultConfigPollInterval = 5 * time.Second
)

// Token lifetime jitter: a pod whose token would last the default 86400 s
// gets a random lifetime in DefaultMinTokenExpiration..86400 instead, so
// the tokens of pods created together do not all expire together
// (upstream pkg.DefaultMinTokenExpiration, applied to container
// credentials only).
const DefaultMinTokenExpiration = int64(79200)

// Container credential variables the webhook injects for EKS Pod Identity.
const (
	EnvContainerCredentialsFullURI     = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	EnvContainerAuthorizationTokenFile = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
)

// LabelPodIdentity marks the pods the webhook gave container credentials
// (upstream adds it with the value "enabled").
const LabelPodIdentity = "eks.amazonaws.com/pod-identity"

// ContainerCredentialsOptions configure the EKS Pod Identity mode. With an
// empty ConfigFile the mode is off: no service account has an association.
type ContainerCredentialsOptions struct {
	// ConfigFile is the JSON file listing the (namespace, service account)
	// pairs that have a pod identity association, as EKS writes it for the
	// managed webhook (upstream's --watch-container-credentials-config):
	//
	//	{"identities": [{"namespace": "team-a", "serviceAccount": "app"}]}
	//
	// A missing or empty file means no identities; a file that does not
	// parse leaves the previous identities in place.
	ConfigFile string
	// PollInterval is how often ConfigFile is re-read. Defaults to
	// DefaultConfigPollInterval.
	PollInterval time.Duration
	// Audience, MountPath, VolumeName, TokenPath and FullURI default to the
	// DefaultContainerCredentials* constants.
	Audience, MountPath, VolumeName, TokenPath, FullURI string
	// Rand returns a uniform integer in [0, n); it draws the token lifetime
	// jitter. Defaults to math/rand/v2's Int64N.
	Rand func(n int64) int64
}

// identity is one entry of the container credentials config file
// (upstream containercredentials.Identity; other fields are ignored).
type identity struct {
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
}

// identityConfig is the container credentials config file.
type identityConfig struct {
	Identities []identity `json:"identities,omitempty"`
}

// identities is the set of service accounts with an association, kept
// current from the config file.
type identities struct {
	path string
	log  *slog.Logger

	mu   sync.RWMutex
	set  map[identity]bool
	last []byte // the content set was built from
}

// load reads the file once and replaces the set: a missing or empty file
// clears it (as upstream's Load(nil)); unparsable JSON is an error and
// keeps the previous set.
func (c *identities) load() error {
	raw, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		raw, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("read container credentials config: %w", err)
	}
	c.mu.RLock()
	same := c.set != nil && bytes.Equal(raw, c.last)
	c.mu.RUnlock()
	if same {
		return nil
	}
	set, err := parseIdentities(raw)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.set, c.last = set, raw
	c.mu.Unlock()
	c.log.Info("loaded container credentials config", "file", c.path, "identities", len(set))
	return nil
}

// parseIdentities parses the config file's content; empty content is no
// identities (upstream's FileConfig.Load; whitespace is not empty there).
func parseIdentities(raw []byte) (map[identity]bool, error) {
	set := map[identity]bool{}
	if len(raw) == 0 {
		return set, nil
	}
	var cfg identityConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("error Unmarshalling container credentials config file: %w", err)
	}
	for _, id := range cfg.Identities {
		set[id] = true
	}
	return set, nil
}

// has reports whether namespace/serviceAccount has an association.
func (c *identities) has(namespace, serviceAccount string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.set[identity{Namespace: namespace, ServiceAccount: serviceAccount}]
}

// watch re-reads the file every interval until ctx ends; stop ends it and
// waits. Upstream watches the file's directory with fsnotify; polling also
// sees a ConfigMap volume's atomic symlink swap.
func (c *identities) watch(ctx context.Context, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := c.load(); err != nil {
					c.log.Error("reload container credentials config", "file", c.path, "err", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// containerCredentialsSource is the EKS Pod Identity source: service
// accounts listed in the config file get container credentials. It comes
// before the IRSA source, as upstream's buildPodPatchConfig: an associated
// service account's role-arn annotation is ignored.
type containerCredentialsSource struct {
	ids    *identities
	cache  *saCache
	opts   ContainerCredentialsOptions
	region string
}

func (containerCredentialsSource) name() string { return "container_credentials" }

func (s containerCredentialsSource) patchConfig(_ context.Context, pod *corev1.Pod, namespace, serviceAccount string) (*PatchConfig, error) {
	if !s.ids.has(namespace, serviceAccount) {
		return nil, nil
	}
	regional, exp := s.cache.commonConfig(namespace, serviceAccount)
	pa := parsePodAnnotations(pod)
	if pa.TokenExpiration != nil {
		exp = *pa.TokenExpiration
	}
	if exp == DefaultTokenExpiration {
		exp = DefaultMinTokenExpiration + s.opts.Rand(DefaultTokenExpiration-DefaultMinTokenExpiration+1)
	}
	return &PatchConfig{
		VolumeName:           s.opts.VolumeName,
		MountPath:            s.opts.MountPath,
		TokenPath:            s.opts.TokenPath,
		Audience:             s.opts.Audience,
		ExpirationSeconds:    exp,
		RegionalSTS:          regional,
		Region:               s.region,
		SkipContainers:       pa.SkipContainers,
		ContainerCredentials: &ContainerCredentials{FullURI: s.opts.FullURI},
	}, nil
}
