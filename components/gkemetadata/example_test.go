package gkemetadata_test

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/idlab/idlab/components/gkemetadata"
)

// The DaemonSet the lab applies on a GKE-style cluster: the server on the
// node's port 988 and an init container installing the DNAT from
// 169.254.169.254:80.
func ExampleManifests() {
	objs := gkemetadata.Manifests("idlab:dev", "kube-system", gkemetadata.ManifestOptions{
		ProjectID: "idlab", ProjectNumber: "123456789012", ClusterName: "gke", ClusterLocation: "us-central1",
		IssuerURL: "https://container.googleapis.com/v1/projects/idlab/locations/us-central1/clusters/gke",
	})
	ds := objs[len(objs)-1].(*appsv1.DaemonSet)
	spec := ds.Spec.Template.Spec
	fmt.Println(ds.Name, spec.HostNetwork)
	fmt.Println(spec.InitContainers[0].Args)
	fmt.Println(spec.Containers[0].Args[:3])
	// Output:
	// gke-metadata-server true
	// [gke-metadata install-dnat --host-root=/host --node-ip=$(NODE_IP) --port=988]
	// [gke-metadata serve --addr=:988]
}
