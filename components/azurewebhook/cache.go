package azurewebhook

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// saCache mirrors every ServiceAccount through a list and a watch, the way
// upstream's controller-runtime cache does. It is a small loop rather than
// client-go's SharedInformer (written when go.mod lacked go-difflib, which
// client-go's tools/cache needs), as irsawebhook's saCache is.
type saCache struct {
	client kubernetes.Interface
	log    *slog.Logger

	mu     sync.RWMutex
	items  map[string]*corev1.ServiceAccount
	synced bool
}

func newSACache(client kubernetes.Interface, log *slog.Logger) *saCache {
	return &saCache{client: client, log: log, items: map[string]*corev1.ServiceAccount{}}
}

func key(ns, name string) string { return ns + "/" + name }

// run lists and watches until ctx ends, re-listing after a watch ends or
// fails, with a capped backoff on errors.
func (c *saCache) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if err := c.listAndWatch(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("service account watch failed; retrying", "error", err, "backoff", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
	}
}

func (c *saCache) listAndWatch(ctx context.Context) error {
	list, err := c.client.CoreV1().ServiceAccounts(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list service accounts: %w", err)
	}
	items := make(map[string]*corev1.ServiceAccount, len(list.Items))
	for i := range list.Items {
		sa := &list.Items[i]
		items[key(sa.Namespace, sa.Name)] = sa
	}
	c.mu.Lock()
	c.items, c.synced = items, true
	c.mu.Unlock()
	w, err := c.client.CoreV1().ServiceAccounts(metav1.NamespaceAll).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, AllowWatchBookmarks: true})
	if err != nil {
		return fmt.Errorf("watch service accounts: %w", err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil // watch closed: re-list
			}
			sa, isSA := ev.Object.(*corev1.ServiceAccount)
			switch {
			case ev.Type == watch.Error:
				return fmt.Errorf("watch service accounts: %v", ev.Object)
			case !isSA:
			case ev.Type == watch.Added || ev.Type == watch.Modified:
				c.mu.Lock()
				c.items[key(sa.Namespace, sa.Name)] = sa
				c.mu.Unlock()
			case ev.Type == watch.Deleted:
				c.mu.Lock()
				delete(c.items, key(sa.Namespace, sa.Name))
				c.mu.Unlock()
			}
		}
	}
}

// get returns the cached ServiceAccount, or fetches it from the API server
// when the cache does not have it (not synced yet, or created a moment ago),
// as upstream falls back to its API reader.
func (c *saCache) get(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	c.mu.RLock()
	sa, ok := c.items[key(ns, name)]
	c.mu.RUnlock()
	if ok {
		return sa, nil
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultLookupTimeout)
	defer cancel()
	sa, err := c.client.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return sa, nil
}
