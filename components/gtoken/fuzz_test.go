package gtoken

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func fakeClient() *fake.Clientset { return fake.NewClientset() }

// FuzzServeHTTP feeds arbitrary bytes as an AdmissionReview body: the handler
// must never panic, must always answer a well-formed v1 AdmissionReview that
// allows the request, and any patch must apply to the review's object.
func FuzzServeHTTP(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","namespace":"apps","object":{"spec":{"serviceAccountName":"app","containers":[{"name":"a"}]}}}}`))
	f.Add([]byte(`{"request":{"uid":"u","namespace":"apps","object":{"spec":{"serviceAccountName":"app","volumes":[],"initContainers":[{"name":"i","env":[{"name":"AWS_ROLE_ARN"}]}]}}}}`))
	f.Add([]byte(`{"request":{"uid":"u","namespace":"apps","object":{"spec":{"serviceAccountName":"app","containers":[{"name":"update-gcp-id-token"}]}}}}`))
	f.Add([]byte(`{"request":{"uid":"u","kind":{"kind":"Pod"},"object":[]}}`))
	f.Add([]byte(`{"request":null}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"apiVersion":`))
	f.Add([]byte{})

	h, err := New(f.Context(), Options{Client: fake.NewClientset(roleSA("apps", "app"))})
	require.NoError(f, err)

	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, MutatePath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		rv := requireReview(t, rec.Body.Bytes())
		require.True(t, rv.Response.Allowed)
		if rv.Response.Patch == nil {
			return
		}
		var in struct {
			Request struct {
				Object json.RawMessage `json:"object"`
			} `json:"request"`
		}
		require.NoError(t, json.Unmarshal(body, &in))
		// The API server applies the patch to the pod in canonical form.
		var pod corev1.Pod
		require.NoError(t, json.Unmarshal(in.Request.Object, &pod))
		raw, err := json.Marshal(&pod)
		require.NoError(t, err)
		p, err := jsonpatch.DecodePatch(rv.Response.Patch)
		require.NoError(t, err)
		out, err := p.Apply(raw)
		require.NoError(t, err, "patch %s on %s", rv.Response.Patch, raw)
		var got corev1.Pod
		require.NoError(t, json.Unmarshal(out, &got))
		require.Equal(t, InitContainerName, got.Spec.InitContainers[0].Name)
		require.Equal(t, SidecarContainerName, got.Spec.Containers[len(got.Spec.Containers)-1].Name)
	})
}
