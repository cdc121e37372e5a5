package irsawebhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
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
	// parse leaves the previous identities in place. It is re-read as soon
	// as its directory reports a change to it (see identities.watch); its
	// directory must exist.
	ConfigFile string
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
	c.log.Info(ConfigLoadMessage, "file", c.path, "identities", len(set), "sha256", ConfigDigest(raw))
	return nil
}

// ConfigLoadMessage is the msg of the line the webhook logs each time it
// takes a new identities file, with the file's "identities" count and its
// "sha256" (ConfigDigest): scenarios read it back to know when the webhook
// began to see an association (ParseLog).
const ConfigLoadMessage = "loaded container credentials config"

// ConfigDigest is the hex SHA-256 of an identities file's content, as the
// webhook logs it when it loads that content.
func ConfigDigest(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
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

// configMapDataLink is the symlink a ConfigMap volume swaps to publish a
// new version of its files (the kubelet's AtomicWriter): the files
// themselves are symlinks through it and never change.
const configMapDataLink = "..data"

// reloadsOn reports whether a change to name, a path in the directory of
// the identities file at path, makes the watch re-read the file: a change
// to the file itself, as upstream's FileWatcher.processEvent decides
// (event.Name == path), or the ConfigMap volume's swap of ..data, which
// upstream's rule does not see (the lab mounts the file from a ConfigMap).
func reloadsOn(path, name string) bool {
	return name == path || name == filepath.Join(filepath.Dir(path), configMapDataLink)
}

// Upstream retries a failed load through a client-go workqueue with
// workqueue.NewItemExponentialFailureRateLimiter(10ms, 5m)
// (pkg/filesystem/file_watcher.go, workqueueBaseDelay and
// workqueueMaxDelay).
const (
	retryBaseDelay = 10 * time.Millisecond
	retryMaxDelay  = 5 * time.Minute
)

// retryDelay is how long after a failed load the next try comes, the
// failures before it not counted: retryBaseDelay doubled per earlier
// failure, at most retryMaxDelay, as the rate limiter's When computes it.
func retryDelay(failures int) time.Duration {
	d := retryBaseDelay
	for range failures {
		if d >= retryMaxDelay {
			break
		}
		d *= 2
	}
	return min(d, retryMaxDelay)
}

// watch loads the file, then re-reads it whenever its directory reports a
// change to it (reloadsOn), until ctx ends; stop ends it and waits. The
// first load is done when watch returns. A load that fails is retried
// after retryDelay, sooner if the file changes again, the previous
// identities kept meanwhile. This is upstream's FileWatcher (fsnotify on
// the file's directory; a change is loaded at once, with no poll and no
// delay of its own), so the time a new association takes to reach pods is
// the time the file takes to change: for the lab's ConfigMap, the
// kubelet's volume sync. The directory must exist (upstream exits when it
// cannot watch it).
func (c *identities) watch(ctx context.Context) (stop func(), err error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch container credentials config: %w", err)
	}
	// Watch first, then load: no change can fall between the two.
	if err := w.Add(filepath.Dir(c.path)); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("watch container credentials config %s: %w", c.path, err)
	}
	r := c.newReloader()
	r.reload()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer w.Close()
		r.run(ctx, w.Events, w.Errors)
	}()
	return func() { cancel(); <-done }, nil
}

// reloader loads the identities file on demand and schedules the retries
// of a load that failed.
type reloader struct {
	ids      *identities
	retry    *time.Timer
	failures int // consecutive failed loads
}

func (c *identities) newReloader() *reloader {
	// Stopped at once: from Go 1.23 on, a stopped timer's channel delivers
	// nothing stale.
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &reloader{ids: c, retry: t}
}

// reload loads the file; after a failure it schedules the next try, as
// upstream's worker re-queues the file rate-limited, and after a success it
// forgets the failures.
func (r *reloader) reload() {
	r.retry.Stop()
	c := r.ids
	if err := c.load(); err != nil {
		d := retryDelay(r.failures)
		r.failures++
		c.log.Error("reload container credentials config", "file", c.path, "err", err, "retry_in", d.String())
		r.retry.Reset(d)
		return
	}
	r.failures = 0
}

// run reloads on every event reloadsOn names and on every retry, until
// ctx ends or events closes.
func (r *reloader) run(ctx context.Context, events <-chan fsnotify.Event, errs <-chan error) {
	defer r.retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-events:
			if !ok {
				return
			}
			if reloadsOn(r.ids.path, e.Name) {
				r.reload()
			}
		case err, ok := <-errs:
			if ok {
				r.ids.log.Error("container credentials config watcher", "file", r.ids.path, "err", err)
			}
		case <-r.retry.C:
			r.reload()
		}
	}
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
