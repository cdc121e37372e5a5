package irsawebhook_test

import (
	"context"
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/idlab/idlab/components/irsawebhook"
)

// A pod of a ServiceAccount annotated with a role gets the token volume and
// the SDK environment.
func ExampleHandler_Mutate() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Namespace:   "apps",
		Name:        "reader",
		Annotations: map[string]string{irsawebhook.AnnotationRoleARN: "arn:aws:iam::111122223333:role/s3-reader"},
	}})
	h, err := irsawebhook.New(ctx, irsawebhook.Options{Client: client, Region: "us-west-2"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer h.Close()

	pod, _ := json.Marshal(corev1.Pod{Spec: corev1.PodSpec{
		ServiceAccountName: "reader",
		Containers:         []corev1.Container{{Name: "app", Image: "amazonlinux"}},
	}})
	resp := h.Mutate(ctx, &admissionv1.AdmissionRequest{
		UID:       "1",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Namespace: "apps",
		Object:    runtime.RawExtension{Raw: pod},
	})
	var ops []irsawebhook.PatchOperation
	_ = json.Unmarshal(resp.Patch, &ops)
	for _, op := range ops {
		fmt.Println(op.Op, op.Path)
	}
	// Output:
	// add /spec/volumes
	// add /spec/containers
}
