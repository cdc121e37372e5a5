package azurewebhook_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/azurewebhook"
)

// MutatePod is the pure mutation behind the webhook, here with v1.6.0's
// layout (the default): a volume named for the pod, mounted at
// /var/run/secrets/azure/wi.
func ExampleMutatePod() {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "blob-reader", Namespace: "apps",
		Annotations: map[string]string{azurewebhook.ClientIDAnnotation: "0f7c3a4e-1f8b-4c55-9d1e-8a3b2c1d0e9f"}}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "reader"}, Spec: corev1.PodSpec{ServiceAccountName: "blob-reader", Containers: []corev1.Container{{Name: "app"}}}}
	_, out, err := azurewebhook.MutatePod(pod, sa, azurewebhook.Options{TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", AuthorityHost: azurewebhook.DefaultAuthorityHost})
	if err != nil {
		panic(err)
	}
	for _, e := range out.Spec.Containers[0].Env {
		fmt.Println(e.Name + "=" + e.Value)
	}
	fmt.Println(out.Spec.Volumes[0].Name, *out.Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken.ExpirationSeconds)
	// Output:
	// AZURE_CLIENT_ID=0f7c3a4e-1f8b-4c55-9d1e-8a3b2c1d0e9f
	// AZURE_TENANT_ID=72f988bf-86f1-41af-91ab-2d7cd011db47
	// AZURE_FEDERATED_TOKEN_FILE=/var/run/secrets/azure/wi/token/azure-identity-token
	// AZURE_AUTHORITY_HOST=https://login.microsoftonline.com/
	// azure-workload-identity-reserved-3d0941964aa3ebdcb00ccef58b1bb3 3600
}
