package harness

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/kube2iam"
)

// ComponentKube2iam is the kube2iam-style metadata proxy on every node.
const ComponentKube2iam = "kube2iam"

// kube2iamProxy runs the proxy on every node of the cluster as kube2iam
// is commonly deployed: --iptables on the pods' host interfaces of the
// lab's pod network (cni0 on the bridge, veth+ on ptp and kindnet),
// --namespace-restrictions, the account's roles as --base-role-arn, no
// default role. Its node credentials are its node's instance profile
// (ClusterConfig.NodeRole of that node) from the node's metadata; it runs
// on pinned workers too (onEveryNode).
type kube2iamProxy struct{}

func (kube2iamProxy) Name() string    { return ComponentKube2iam }
func (kube2iamProxy) Cluster() string { return "eks" }

func (kube2iamProxy) Deploy(ctx context.Context, d *deployer) error {
	cs, ca, c := d.cs, d.ca, d.cluster
	if err := apply(ctx, cs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace}}); err != nil {
		return err
	}
	const caMap = "idlab-kube2iam-ca"
	if err := apply(ctx, cs, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: caMap, Namespace: SystemNamespace},
		Data: map[string]string{kube2iam.CAKey: string(ca.PEM)}}); err != nil {
		return err
	}
	opts, err := kube2iamOptions(c, d.podInterface, caMap)
	if err != nil {
		return err
	}
	for _, obj := range kube2iam.Manifests(d.image, SystemNamespace, opts) {
		if ds, ok := obj.(*appsv1.DaemonSet); ok {
			ds.Spec.Template.Annotations = labCAStamp(ca)
			onEveryNode(ds)
		}
		if err := apply(ctx, cs, obj); err != nil {
			return err
		}
	}
	return waitDaemonSet(ctx, cs, SystemNamespace, kube2iam.Name, 2*time.Minute)
}

// kube2iamOptions are the proxy's flags in cluster c whose pods' host
// interfaces podInterface matches (the lab's pod network's).
func kube2iamOptions(c ClusterConfig, podInterface, caMap string) (kube2iam.ManifestOptions, error) {
	if podInterface == "" {
		return kube2iam.ManifestOptions{}, fmt.Errorf("kube2iam: no --host-interface (the lab's pod network names it)")
	}
	return kube2iam.ManifestOptions{HostInterface: podInterface, BaseRoleARN: "arn:aws:iam::" + accountOf(c.NodeRoleARN) + ":role/",
		NamespaceRestriction: true, Region: c.Region, CAConfigMap: caMap}, nil
}

// accountOf is the account of an IAM ARN (arn:aws:iam::ACCOUNT:...).
func accountOf(arn string) string {
	const prefix = "arn:aws:iam::"
	if len(arn) < len(prefix)+12 {
		return ""
	}
	return arn[len(prefix) : len(prefix)+12]
}

// DropKube2iamRule removes the proxy's DNAT from every node of cluster, as
// a node reboot does (nat rules live in memory) until kube2iam's init
// container runs again: the window of jtblin/kube2iam#170. It returns how
// many rules it removed. It finds the rule on any pod network
// (isKube2iamRule).
func DropKube2iamRule(ctx context.Context, cluster string) (int, error) {
	out, err := docker(ctx, nil, "ps", "-q", "--filter", "label=io.x-k8s.kind.cluster="+cluster)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, node := range strings.Fields(out) {
		rules, err := docker(ctx, nil, "exec", node, "iptables", "-w", "-t", "nat", "-S", "PREROUTING")
		if err != nil {
			return n, err
		}
		for _, line := range strings.Split(rules, "\n") {
			f := strings.Fields(line)
			if !isKube2iamRule(f) {
				continue
			}
			if _, err := docker(ctx, nil, append([]string{"exec", node, "iptables", "-w", "-t", "nat", "-D"}, f[1:]...)...); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// isKube2iamRule reports whether f, the fields of an `iptables -S` line, is
// kube2iam's DNAT (kube2iam.DNATRule) on whatever interface: an appended
// rule sending tcp to the metadata address's port 80 from an interface
// match (-i, negated or not) to port DefaultAppPort. The node's own
// instance metadata DNAT has no interface match and another port.
func isKube2iamRule(f []string) bool {
	if len(f) < 2 || f[0] != "-A" {
		return false
	}
	var dst, dport, to string
	iface := false
	for i := 1; i+1 < len(f); i++ {
		switch f[i] {
		case "-d":
			dst = f[i+1]
		case "--dport":
			dport = f[i+1]
		case "--to-destination":
			to = f[i+1]
		case "-i":
			iface = true
		}
	}
	_, port, err := net.SplitHostPort(to)
	return iface && dst == kube2iam.DefaultMetadataAddress+"/32" && dport == "80" && err == nil && port == strconv.Itoa(kube2iam.DefaultAppPort)
}
