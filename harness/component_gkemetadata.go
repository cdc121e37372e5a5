package harness

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/gkemetadata"
)

// ComponentGKEMetadata is the GKE metadata server on every node.
const ComponentGKEMetadata = "gke-metadata"

// gkeMetadata runs the GKE metadata server on every node of the cluster,
// with the DNAT that sends pods' 169.254.169.254 traffic to it, as GKE does
// for Workload Identity node pools. The Google project is the cluster's
// (the lab's "idlab" unless a lab file names another); its number stays
// the lab project's, GoogleProjectNumber.
type gkeMetadata struct{}

func (gkeMetadata) Name() string    { return ComponentGKEMetadata }
func (gkeMetadata) Cluster() string { return "gke" }

func (gkeMetadata) Deploy(ctx context.Context, d *deployer) error {
	cs, ca, c := d.cs, d.ca, d.cluster
	if err := apply(ctx, cs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SystemNamespace}}); err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: labCAConfigMap, Namespace: SystemNamespace},
		Data: map[string]string{gkemetadata.CAKey: string(ca.PEM)}}
	if err := apply(ctx, cs, cm); err != nil {
		return err
	}
	opts := gkemetadata.ManifestOptions{ProjectID: c.Project, ProjectNumber: GoogleProjectNumber,
		ClusterName: c.Name, ClusterLocation: c.Region, IssuerURL: c.IssuerURL, CAConfigMap: labCAConfigMap}
	for _, obj := range gkemetadata.Manifests(d.image, SystemNamespace, opts) {
		if ds, ok := obj.(*appsv1.DaemonSet); ok {
			ds.Spec.Template.Annotations = labCAStamp(ca)
			onEveryNode(ds)
			// The node's Google identity: the metadata server's own KSA,
			// bound in fixtures/gcp to GoogleNodeServiceAccount.
			ctr := &ds.Spec.Template.Spec.Containers[0]
			ctr.Args = append(ctr.Args, "--node-ksa="+SystemNamespace+"/"+gkemetadata.Name, "--node-service-account="+GoogleNodeServiceAccount)
		}
		if err := apply(ctx, cs, obj); err != nil {
			return err
		}
	}
	return waitDaemonSet(ctx, cs, SystemNamespace, gkemetadata.Name, 2*time.Minute)
}
