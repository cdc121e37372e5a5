package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"k8s.io/client-go/kubernetes"

	"github.com/idlab/idlab/harness/cni"
	"github.com/idlab/idlab/internal/certs"
)

// component is one in-cluster part the lab can deploy, as kind's create
// actions are steps of one shape: a name for ClusterConfig.Components, the
// kind of cluster it belongs in, and a Deploy that applies its objects and
// waits until it serves.
type component interface {
	// Name is the component's entry in ClusterConfig.Components.
	Name() string
	// Cluster is the flavour of cluster it belongs in: "eks", "gke" or
	// "aks" (see clusterKind), or "" for every flavour. Clusters of that
	// flavour run it unless a lab file turns it off.
	Cluster() string
	// Deploy applies the component to d's cluster and returns once it
	// serves: a webhook with failurePolicy Ignore that is not yet ready
	// would let pods through unmutated, and scenarios would fail for the
	// wrong reason.
	Deploy(ctx context.Context, d *deployer) error
}

// components are the in-cluster components. The lab deploys a cluster's
// side by side, save that EKS Pod Identity (a dependent) waits for the
// IRSA webhook it builds on.
func components() []component {
	return []component{
		irsaWebhook{},
		podIdentity{},
		gkeMetadata{},
		azureWebhook{},
		aadPodIdentity{},
		kube2iamProxy{},
		gtokenWebhook{},
		labCA{},
	}
}

// deployer is what a component's Deploy gets: one cluster's client and
// configuration, the lab CA and the idlab image the components run.
type deployer struct {
	cs           kubernetes.Interface
	ca           *certs.CA
	image        string // the idlab image, loaded into the cluster
	cluster      ClusterConfig
	images       imageLoader // loads a component's extra images into the cluster
	idlabBinary  string      // Config.IdlabBinary, for images of its own
	gtokenBinary string      // Config.GTokenBinary, the gtoken image's
	eksFixtures  string      // the eks fixtures directory (pod identity associations)
	// podInterface is the iptables -i match of pods' host interfaces on
	// the cluster's pod network (cni.Name.PodInterface).
	podInterface string
	// nodeRoots reads the system roots (PEM) of a node of the cluster.
	nodeRoots func(ctx context.Context, cluster string) ([]byte, error)
	progress  io.Writer // Config.Progress
}

// imageLoader loads local images into a cluster (the kind provider).
type imageLoader interface {
	LoadImages(ctx context.Context, cluster string, images ...string) error
}

// SystemNamespace holds the lab's in-cluster components.
const SystemNamespace = "idlab-system"

// labCAConfigMap holds the lab CA in SystemNamespace for components that
// call the emulated clouds.
const labCAConfigMap = "idlab-ca"

// clusterKind is the kind of a cluster by its name's prefix, as
// DefaultCluster reads it: gke*, aks*, else eks.
func clusterKind(name string) string {
	switch {
	case strings.HasPrefix(name, "gke"):
		return "gke"
	case strings.HasPrefix(name, "aks"):
		return "aks"
	}
	return "eks"
}

// defaultComponents names the components a cluster of kind runs by
// default, in deployment order.
func defaultComponents(kind string) []string {
	var names []string
	for _, c := range components() {
		if c.Cluster() == kind || c.Cluster() == "" {
			names = append(names, c.Name())
		}
	}
	return names
}

// deployClusterComponents loads the image into c and deploys the
// components c names side by side: each Deploy waits until its component
// serves (a rollout, readiness probes, a webhook's first mutation), and
// those waits are most of the time. A component that builds on another
// (dependent) starts once that one serves, and not at all if it failed.
func (l *Lab) deployClusterComponents(ctx context.Context, ca *certs.CA, image string, c ClusterConfig, net cni.Name) error {
	if err := l.kind.LoadImages(ctx, c.Name, image); err != nil {
		return fmt.Errorf("load %s: %w", image, err)
	}
	cs, err := l.clientset(ctx, c.Name)
	if err != nil {
		return err
	}
	d := &deployer{cs: cs, ca: ca, image: image, cluster: c, images: l.kind,
		idlabBinary: l.cfg.IdlabBinary, gtokenBinary: l.cfg.GTokenBinary, eksFixtures: l.eksFixturesDir(), podInterface: net.PodInterface(),
		nodeRoots: nodeSystemRoots, progress: l.cfg.Progress}
	var deploy []component
	for _, comp := range components() {
		if slices.Contains(c.Components, comp.Name()) {
			deploy = append(deploy, comp)
		}
	}
	return deployAll(deploy, func(comp component) error {
		return l.run("cluster "+c.Name+": "+comp.Name(), func() error { return comp.Deploy(ctx, d) })
	})
}

// dependent is a component that builds on another in the same cluster.
type dependent interface {
	// after names the component that must serve before this one deploys.
	after() string
}

// deployAll runs deploy for every component at once, except that a
// dependent waits for the component it names (when that one is in comps)
// and is skipped with an error if it failed.
func deployAll(comps []component, deploy func(component) error) error {
	errs := make([]error, len(comps))
	done := make(map[string]chan struct{}, len(comps))
	index := make(map[string]int, len(comps))
	for i, comp := range comps {
		done[comp.Name()] = make(chan struct{})
		index[comp.Name()] = i
	}
	var wg sync.WaitGroup
	for i, comp := range comps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[comp.Name()])
			if dep, ok := comp.(dependent); ok {
				if ch, ok := done[dep.after()]; ok {
					<-ch
					if errs[index[dep.after()]] != nil {
						errs[i] = fmt.Errorf("%s: not deployed: it builds on %s, which failed", comp.Name(), dep.after())
						return
					}
				}
			}
			if err := deploy(comp); err != nil {
				errs[i] = fmt.Errorf("%s: %w", comp.Name(), err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
