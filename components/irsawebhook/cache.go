package irsawebhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// errLookupTimeout is returned by lookup when neither the watch nor the
// API produced the ServiceAccount in time.
var errLookupTimeout = errors.New("service account lookup timed out")

// saCache holds the parsed annotations of every ServiceAccount, fed by a
// list+watch of the API (upstream pkg/cache, there a SharedInformer). A ServiceAccount the watch has not
// delivered yet is fetched from the API server: upstream added the wait in
// aws/amazon-eks-pod-identity-webhook#236 and the GET in #252, both for
// issue #174 (a pod created right after its ServiceAccount went unmutated),
// and does both only with --service-account-lookup-grace-period set (it
// defaults to 0, no wait); idlab always does (doc.go, row sa-lookup).
type saCache struct {
	client kubernetes.Interface
	opts   Options
	log    *slog.Logger

	mu      sync.Mutex
	entries map[string]serviceAccountConfig
	// waiters are closed when the watch delivers their key.
	waiters map[string]chan struct{}
	// inflight deduplicates concurrent API GETs for one key, as #252 does.
	inflight map[string]*fetch
}

// fetch is one API GET shared by every lookup of a key.
type fetch struct {
	done chan struct{}
	cfg  serviceAccountConfig
	err  error
}

func newSACache(opts Options) *saCache {
	return &saCache{
		client:   opts.Client,
		opts:     opts,
		log:      opts.Logger,
		entries:  map[string]serviceAccountConfig{},
		waiters:  map[string]chan struct{}{},
		inflight: map[string]*fetch{},
	}
}

func cacheKey(namespace, name string) string { return namespace + "/" + name }

// start lists every ServiceAccount into the cache and keeps it current with
// a watch until ctx ends; stop ends the watch and waits for it.
//
// This is a small list+watch loop rather than client-go's SharedInformer
// (written when go.mod lacked go-difflib, which client-go's tools/cache
// needs). The loop does what the informer would here:
// list, watch from the list's resourceVersion with bookmarks, re-list after
// an expired watch, back off on errors.
func (c *saCache) start(ctx context.Context) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	rv, err := c.list(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.run(ctx, rv)
	}()
	return func() { cancel(); <-done }, nil
}

// list replaces the cache's contents with a fresh list and returns its
// resourceVersion.
func (c *saCache) list(ctx context.Context) (string, error) {
	l, err := c.client.CoreV1().ServiceAccounts(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("list service accounts: %w", err)
	}
	seen := make(map[string]bool, len(l.Items))
	for i := range l.Items {
		c.set(&l.Items[i])
		seen[cacheKey(l.Items[i].Namespace, l.Items[i].Name)] = true
	}
	c.mu.Lock()
	for k := range c.entries {
		if !seen[k] {
			delete(c.entries, k)
		}
	}
	c.mu.Unlock()
	return l.ResourceVersion, nil
}

// run watches from rv until ctx ends, re-listing when a watch fails.
func (c *saCache) run(ctx context.Context, rv string) {
	const minBackoff, maxBackoff = 100 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	for ctx.Err() == nil {
		w, err := c.client.CoreV1().ServiceAccounts(metav1.NamespaceAll).Watch(ctx, metav1.ListOptions{
			ResourceVersion:     rv,
			AllowWatchBookmarks: true,
		})
		if err == nil {
			rv, err = c.consume(ctx, w, rv)
			if err == nil {
				backoff = minBackoff
				continue // the server closed the watch: resume from rv
			}
		}
		if ctx.Err() != nil {
			return
		}
		c.log.Warn("service account watch failed, re-listing", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
		if newRV, err := c.list(ctx); err == nil {
			rv = newRV
		}
	}
}

// consume applies w's events until it closes (nil error) or reports an
// error (such as 410 Gone), returning the last resourceVersion seen.
func (c *saCache) consume(ctx context.Context, w watch.Interface, rv string) (string, error) {
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return rv, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return rv, nil
			}
			if ev.Type == watch.Error {
				return rv, fmt.Errorf("watch service accounts: %w", apierrors.FromObject(ev.Object))
			}
			sa, ok := ev.Object.(*corev1.ServiceAccount)
			if !ok {
				continue
			}
			if sa.ResourceVersion != "" {
				rv = sa.ResourceVersion
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				c.set(sa)
			case watch.Deleted:
				c.mu.Lock()
				delete(c.entries, cacheKey(sa.Namespace, sa.Name))
				c.mu.Unlock()
			}
		}
	}
}

// set stores sa's parsed annotations and wakes lookups waiting for it.
func (c *saCache) set(sa *corev1.ServiceAccount) {
	cfg := parseServiceAccount(sa, c.opts)
	if cfg.RoleARN != "" && !roleARNPattern.MatchString(cfg.RoleARN) {
		c.log.Warn("service account role ARN looks invalid", "service_account", cacheKey(sa.Namespace, sa.Name), "role_arn", cfg.RoleARN)
	}
	key := cacheKey(sa.Namespace, sa.Name)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[key] = cfg
	if w, ok := c.waiters[key]; ok {
		close(w)
		delete(c.waiters, key)
	}
}

// peek returns the cached configuration of namespace/name without waiting
// for the watch or asking the API.
func (c *saCache) peek(namespace, name string) (serviceAccountConfig, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cfg, ok := c.entries[cacheKey(namespace, name)]
	return cfg, ok
}

// commonConfig is what container credentials take from a ServiceAccount
// (upstream's GetCommonConfigurations): its sts-regional-endpoints and
// token-expiration when it is cached, without waiting for it; else false
// and DefaultTokenExpiration.
func (c *saCache) commonConfig(namespace, name string) (regionalSTS bool, tokenExpiration int64) {
	if sa, ok := c.peek(namespace, name); ok {
		return sa.RegionalSTS, sa.TokenExpiration
	}
	return false, DefaultTokenExpiration
}

// lookup returns the configuration of ServiceAccount namespace/name. found is
// false when the ServiceAccount does not exist. When the cache does not hold
// it, lookup waits up to Options.LookupTimeout for the watch or an API GET,
// whichever answers first.
func (c *saCache) lookup(ctx context.Context, namespace, name string) (cfg serviceAccountConfig, found bool, err error) {
	key := cacheKey(namespace, name)
	c.mu.Lock()
	if cfg, ok := c.entries[key]; ok {
		c.mu.Unlock()
		return cfg, true, nil
	}
	w, ok := c.waiters[key]
	if !ok {
		w = make(chan struct{})
		c.waiters[key] = w
	}
	f, ok := c.inflight[key]
	if !ok {
		f = &fetch{done: make(chan struct{})}
		c.inflight[key] = f
		go c.get(context.WithoutCancel(ctx), namespace, name, f)
	}
	c.mu.Unlock()

	c.log.Debug("service account not in cache, looking it up", "service_account", key)
	ctx, cancel := context.WithTimeout(ctx, c.opts.LookupTimeout)
	defer cancel()
	select {
	case <-w:
		c.mu.Lock()
		cfg, ok := c.entries[key]
		c.mu.Unlock()
		return cfg, ok, nil
	case <-f.done:
		if apierrors.IsNotFound(f.err) {
			return serviceAccountConfig{}, false, nil
		}
		if f.err != nil {
			return serviceAccountConfig{}, false, fmt.Errorf("get service account %s: %w", key, f.err)
		}
		return f.cfg, true, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return serviceAccountConfig{}, false, fmt.Errorf("service account %s after %s: %w", key, c.opts.LookupTimeout, errLookupTimeout)
		}
		return serviceAccountConfig{}, false, fmt.Errorf("service account %s: %w", key, ctx.Err())
	}
}

// get fetches one ServiceAccount from the API server for every lookup
// sharing f, bounded by LookupTimeout; a found one also fills the cache
// unless the watch got there first.
func (c *saCache) get(ctx context.Context, namespace, name string, f *fetch) {
	key := cacheKey(namespace, name)
	ctx, cancel := context.WithTimeout(ctx, c.opts.LookupTimeout)
	defer cancel()
	sa, err := c.client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		f.cfg = parseServiceAccount(sa, c.opts)
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("%w: %w", errLookupTimeout, err)
	}
	f.err = err

	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, key)
	// Lookups sharing f wake on f.done; later ones start afresh.
	delete(c.waiters, key)
	if err == nil {
		if _, ok := c.entries[key]; !ok {
			c.entries[key] = f.cfg
		}
	}
	close(f.done)
}
