package irsawebhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FuzzServeHTTP feeds arbitrary bytes as an AdmissionReview body: the handler
// must never panic and must always answer an AdmissionReview that either
// allows the request or, as upstream does for a body it cannot read, refuses
// it with a status message and no patch.
func FuzzServeHTTP(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","namespace":"apps","object":{"spec":{"serviceAccountName":"app","containers":[{"name":"a"}]}}}}`))
	f.Add([]byte(`{"request":{"uid":"u","object":{"spec":{"volumes":null,"initContainers":[{"name":"i","env":[{"name":"AWS_REGION"}]}]}}}}`))
	f.Add([]byte(`{"request":{"uid":"u","kind":{"kind":"Pod"},"object":[]}}`))
	f.Add([]byte(`{"request":null}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"apiVersion":`))
	f.Add([]byte{})

	client := fakeClient()
	_, err := client.CoreV1().ServiceAccounts("apps").Create(f.Context(), roleSA("apps", "app"), metav1.CreateOptions{})
	require.NoError(f, err)
	h, err := New(f.Context(), Options{Client: client, Region: "us-west-2"})
	require.NoError(f, err)
	f.Cleanup(h.Close)

	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, MutatePath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		var rv admissionv1.AdmissionReview
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rv), "%s", rec.Body.Bytes())
		require.NotNil(t, rv.Response)
		if !rv.Response.Allowed {
			require.NotNil(t, rv.Response.Result)
			require.NotEmpty(t, rv.Response.Result.Message)
			require.Nil(t, rv.Response.Patch)
		}
	})
}

// FuzzMutateAnnotations feeds arbitrary annotation values (on the
// ServiceAccount and the pod) and container names into the mutation: it must
// never panic, and any patch must apply to the pod, raise expirations below
// 600 s to 600 s and keep the others, and keep env names unique.
func FuzzMutateAnnotations(f *testing.F) {
	f.Add("arn:aws:iam::111122223333:role/r", "sts.amazonaws.com", "true", "3600", "7200", "sidecar,app", "app")
	f.Add("x", "", "1", "-5", "99999999999999999999", `"a,b`, "")
	f.Add("", "aud", "false", "", "600", ",", "sidecar")
	f.Fuzz(func(t *testing.T, role, audience, sts, saExp, podExp, skip, container string) {
		opts, err := Options{Client: fakeClient(), Region: "eu-west-1"}.normalize()
		require.NoError(t, err)
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
			AnnotationRoleARN:         role,
			AnnotationAudience:        audience,
			AnnotationRegionalSTS:     sts,
			AnnotationTokenExpiration: saExp,
		}}}
		cfg := parseServiceAccount(sa, opts)
		require.Equal(t, wantExpiration(saExp, opts.DefaultTokenExpiration), cfg.TokenExpiration)

		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
				AnnotationTokenExpiration: podExp,
				AnnotationSkipContainers:  skip,
			}},
			Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: container}},
				Containers:     []corev1.Container{{Name: "app"}, {Name: "sidecar", Env: []corev1.EnvVar{{Name: EnvRegion, Value: "x"}}}},
			},
		}
		src := irsaSource{cache: newSACache(opts), region: opts.Region}
		src.cache.entries[cacheKey("apps", "app")] = cfg
		pc, err := src.patchConfig(t.Context(), pod, "apps", "app")
		require.NoError(t, err)
		if role == "" {
			require.Nil(t, pc)
			return
		}
		require.NotNil(t, pc)
		require.Equal(t, wantExpiration(podExp, cfg.TokenExpiration), pc.ExpirationSeconds)

		ops := MutatePod(pod, *pc)
		patch, err := json.Marshal(ops)
		require.NoError(t, err)
		raw, err := json.Marshal(pod)
		require.NoError(t, err)
		p, err := jsonpatch.DecodePatch(patch)
		require.NoError(t, err)
		out, err := p.Apply(raw)
		require.NoError(t, err)
		var got corev1.Pod
		require.NoError(t, json.Unmarshal(out, &got))
		for _, c := range append(got.Spec.InitContainers, got.Spec.Containers...) {
			seen := map[string]bool{}
			for _, e := range c.Env {
				require.False(t, seen[e.Name], "duplicate env %q in %q", e.Name, c.Name)
				seen[e.Name] = true
			}
		}
	})
}

// wantExpiration is the lifetime an annotation value v gives: def when v is
// not a base-10 integer, else v raised to MinTokenExpiration.
func wantExpiration(v string, def int64) int64 {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return def
	}
	return max(n, MinTokenExpiration)
}
