package labca

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
)

// FuzzServeHTTP feeds arbitrary bytes as an AdmissionReview body: the
// handler never panics, always answers a v1 AdmissionReview that allows the
// request, and any patch applies to the pod and leaves every container with
// the variables.
func FuzzServeHTTP(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","namespace":"apps","object":{"spec":{"containers":[{"name":"a"}]}}}}`))
	f.Add([]byte(`{"request":{"uid":"u","object":{"spec":{"volumes":[{"name":"idlab-lab-ca","configMap":{"name":"idlab-lab-ca"}}],"initContainers":[{"name":"i","env":[{"name":"SSL_CERT_FILE"}]}],"containers":[{"name":"c","volumeMounts":[{"name":"x","mountPath":"/etc/idlab-lab-ca/"}]}]}}}}`))
	f.Add([]byte(`{"request":{"uid":"u","object":{"metadata":{"labels":{"labca.idlab.dev/skip":""}},"spec":{"containers":[{"name":"c"}]}}}}`))
	f.Add([]byte(`{"request":{"uid":"u","kind":{"kind":"Pod"},"object":[]}}`))
	f.Add([]byte(`{"request":null}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})
	h := New(Options{})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, MutatePath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		var rv admissionv1.AdmissionReview
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rv))
		require.Equal(t, "admission.k8s.io/v1", rv.APIVersion)
		require.NotNil(t, rv.Response)
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
		for _, c := range append(got.Spec.InitContainers, got.Spec.Containers...) {
			for _, v := range Variables {
				n := 0
				for _, e := range c.Env {
					if e.Name == v.Name {
						n++
					}
				}
				require.Equal(t, 1, n, "%s: %s", c.Name, v.Name)
			}
		}
		require.Nil(t, MutatePod(&got), "a second pass adds nothing")
	})
}
