package labenv_test

import (
	"context"
	"fmt"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/idlab/idlab/scenarios/kit/labenv"
)

// A user's manifest, applied to a namespace a test owns, as kubectl apply
// would (here to a fake cluster; in a scenario, Cluster.Apply to the lab's).
func ExampleApplyManifest() {
	manifest := []byte(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: my-app
  annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::111122223333:role/my-app"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: my-app}
spec:
  selector: {matchLabels: {app: my-app}}
  template:
    metadata: {labels: {app: my-app}}
    spec: {serviceAccountName: my-app, containers: [{name: app, image: my-app:1.4.2}]}
`)
	objs, err := labenv.ApplyManifest(context.Background(), fake.NewClientset(), "payments", manifest)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range objs {
		fmt.Println(o.GetObjectKind().GroupVersionKind().Kind)
	}
	// Output:
	// ServiceAccount
	// Deployment
}
