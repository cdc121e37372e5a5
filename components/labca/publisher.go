package labca

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Publisher keeps BundleConfigMap, holding the bundle, in every namespace
// labelled NamespaceLabel=NamespaceEnabled: the ConfigMap the webhook's
// pod volumes name. It works as kube-controller-manager's root CA
// publisher keeps kube-root-ca.crt in every namespace
// (kubernetes/kubernetes pkg/controller/certificates/rootcacertpublisher/publisher.go
// at e0a566e7): a namespace added or updated, or the ConfigMap changed or
// deleted, queues the namespace, whose ConfigMap is then created or put
// back. A namespace that loses the label keeps its ConfigMap.
type Publisher struct {
	client kubernetes.Interface
	data   map[string]string
	log    *slog.Logger
	resync time.Duration
	queue  workqueue.TypedRateLimitingInterface[string]
}

// PublisherOptions configures a Publisher.
type PublisherOptions struct {
	// Client writes ConfigMaps and watches namespaces. Required.
	Client kubernetes.Interface
	// Bundle is what the ConfigMaps hold.
	Bundle Bundle
	// Logger receives a line per ConfigMap written. Defaults to discard.
	Logger *slog.Logger
	// Resync is how often every labelled namespace is checked again.
	// Defaults to a minute.
	Resync time.Duration
}

// NewPublisher returns a Publisher; Run starts it.
func NewPublisher(opts PublisherOptions) (*Publisher, error) {
	if opts.Client == nil {
		return nil, fmt.Errorf("labca: PublisherOptions.Client is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Resync <= 0 {
		opts.Resync = time.Minute
	}
	return &Publisher{client: opts.Client, data: opts.Bundle.Data(), log: opts.Logger, resync: opts.Resync,
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}, nil
}

// Run watches namespaces and ConfigMaps and publishes until ctx ends.
func (p *Publisher) Run(ctx context.Context) error {
	defer p.queue.ShutDown()
	selector := NamespaceLabel + "=" + NamespaceEnabled
	nsInformers := informers.NewSharedInformerFactoryWithOptions(p.client, p.resync,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	cmInformers := informers.NewSharedInformerFactoryWithOptions(p.client, p.resync,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + BundleConfigMap }))
	if _, err := nsInformers.Core().V1().Namespaces().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.enqueueNamespace(obj) },
		UpdateFunc: func(_, obj any) { p.enqueueNamespace(obj) },
	}); err != nil {
		return err
	}
	if _, err := cmInformers.Core().V1().ConfigMaps().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { p.enqueueConfigMap(obj) },
		DeleteFunc: func(obj any) { p.enqueueConfigMap(obj) },
	}); err != nil {
		return err
	}
	nsInformers.Start(ctx.Done())
	cmInformers.Start(ctx.Done())
	defer nsInformers.Shutdown()
	defer cmInformers.Shutdown()
	go func() {
		for p.next(ctx) {
		}
	}()
	<-ctx.Done()
	return nil
}

func (p *Publisher) enqueueNamespace(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		p.queue.Add(ns.Name)
	}
}

func (p *Publisher) enqueueConfigMap(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok && cm.Name == BundleConfigMap {
		p.queue.Add(cm.Namespace)
	}
}

// next syncs one queued namespace; false once the queue is shut down.
func (p *Publisher) next(ctx context.Context) bool {
	ns, quit := p.queue.Get()
	if quit {
		return false
	}
	defer p.queue.Done(ns)
	if err := p.Sync(ctx, ns); err != nil {
		p.log.Error("publish the lab CA bundle", "namespace", ns, "err", err)
		p.queue.AddRateLimited(ns)
		return true
	}
	p.queue.Forget(ns)
	return true
}

// Sync puts the bundle's ConfigMap into namespace ns when ns is labelled
// and active: created when missing, its data replaced when it differs.
func (p *Publisher) Sync(ctx context.Context, ns string) error {
	n, err := p.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if n.Labels[NamespaceLabel] != NamespaceEnabled || n.Status.Phase == corev1.NamespaceTerminating || n.DeletionTimestamp != nil {
		return nil
	}
	cms := p.client.CoreV1().ConfigMaps(ns)
	cm, err := cms.Get(ctx, BundleConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: BundleConfigMap, Labels: labels()},
			Data: maps.Clone(p.data)}, metav1.CreateOptions{})
		if apierrors.IsNotFound(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		if err == nil {
			p.log.Info("lab CA bundle published", "namespace", ns)
		}
		return err
	case err != nil:
		return err
	case maps.Equal(cm.Data, p.data):
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data = maps.Clone(p.data)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return err
	}
	p.log.Info("lab CA bundle updated", "namespace", ns)
	return nil
}
