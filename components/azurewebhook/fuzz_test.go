package azurewebhook

import (
	"context"
	"encoding/json"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// FuzzAdmissionReview feeds arbitrary AdmissionReview bodies through the
// decoder and Mutate: no panic, a response for every decoded review, every
// patch applies to the pod it was made for, and the patched pod, reviewed
// again (a reinvocation), gets no further patch.
func FuzzAdmissionReview(f *testing.F) {
	f.Add(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"apps","object":{"metadata":{"labels":{"azure.workload.identity/use":"true"},"annotations":{"azure.workload.identity/skip-containers":"a;b"}},"spec":{"serviceAccountName":"sa","initContainers":[{"name":"i"}],"containers":[{"name":"a","env":[{"name":"AZURE_CLIENT_ID","value":"x"}]},{"name":"c"}]}}}}`)
	f.Add(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"apps","object":{"metadata":{"generateName":"w-","annotations":{"azure.workload.identity/inject-proxy-sidecar":"true","azure.workload.identity/proxy-sidecar-port":"9000"}},"spec":{"serviceAccountName":"sa","containers":[{"name":"azwi-proxy"},{"name":"c","volumeMounts":[{"name":"x","mountPath":"/x"}]}],"volumes":[{"name":"azure-workload-identity-reserved-00","emptyDir":{}}]}}}}`)
	f.Add(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"apps","object":{"metadata":{"name":"n"}}}}`)
	f.Add(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"kind":{"kind":"Pod"},"operation":"CREATE","object":null}}`)
	f.Add(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"apps","object":{"metadata":{"name":"n"},"Spec":{"containers":[{"name":"c"}]}}}}`)
	f.Add(`{}`)
	var handlers []*Handler // one per release
	for _, release := range []Release{Release160, Release151} {
		client := fakeClient(serviceAccount(map[string]string{ClientIDAnnotation: "cid", TokenExpirationAnnotation: "7200"}))
		h, err := New(context.Background(), Options{Client: client, TenantID: "t", Release: release})
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(h.Close)
		handlers = append(handlers, h)
	}
	f.Fuzz(func(t *testing.T, body string) {
		review, err := decodeReview([]byte(body))
		if err != nil {
			return
		}
		for _, h := range handlers {
			resp := h.Mutate(context.Background(), review.Request)
			if resp == nil || resp.UID != review.Request.UID {
				t.Fatalf("bad response %+v", resp)
			}
			if resp.Patch == nil {
				continue
			}
			p, err := jsonpatch.DecodePatch(resp.Patch)
			if err != nil {
				t.Fatalf("undecodable patch %s: %v", resp.Patch, err)
			}
			out, err := p.Apply(review.Request.Object.Raw)
			if err != nil {
				t.Fatalf("patch %s does not apply to %s: %v", resp.Patch, review.Request.Object.Raw, err)
			}
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("patched pod is not JSON: %v", err)
			}
			again := *review.Request
			again.Object.Raw = out
			if resp := h.Mutate(context.Background(), &again); resp.Patch != nil {
				t.Fatalf("%s: a second review of %s patched again: %s", h.opts.Release, out, resp.Patch)
			}
		}
	})
}
