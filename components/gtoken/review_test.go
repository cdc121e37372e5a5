package gtoken

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/idlab/idlab/internal/admission"
)

func appPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "apps"},
		Spec: corev1.PodSpec{
			ServiceAccountName: "app",
			Containers:         []corev1.Container{{Name: "app", Image: "amazonlinux"}},
		},
	}
}

func post(t *testing.T, url, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, out
}

// TestServeHTTP posts AdmissionReviews through a real HTTP server.
func TestServeHTTP(t *testing.T) {
	h, _ := newTestHandler(t, Options{}, roleSA("apps", "app"),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "plain"}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	review := func(t *testing.T, req *admissionv1.AdmissionRequest) []byte {
		t.Helper()
		b, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: admission.ReviewTypeMeta, Request: req})
		require.NoError(t, err)
		return b
	}
	plainPod := appPod()
	plainPod.Spec.ServiceAccountName = "plain"

	tests := []struct {
		name        string
		contentType string
		body        func(t *testing.T) []byte
		wantHTTP    int
		wantUID     string
		wantPatch   bool
		wantCode    int32 // Result code, 0 for none
	}{
		{name: "mutated", body: func(t *testing.T) []byte { return review(t, podRequest(t, "u1", "apps", appPod())) },
			wantHTTP: 200, wantUID: "u1", wantPatch: true},
		{name: "no annotation", body: func(t *testing.T) []byte { return review(t, podRequest(t, "u2", "apps", plainPod)) },
			wantHTTP: 200, wantUID: "u2"},
		{name: "not a pod", body: func(t *testing.T) []byte {
			r := podRequest(t, "u3", "apps", appPod())
			r.Kind = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
			return review(t, r)
		}, wantHTTP: 200, wantUID: "u3"},
		{name: "malformed json", body: func(*testing.T) []byte { return []byte(`{"apiVersion":`) },
			wantHTTP: 200, wantCode: 400},
		{name: "empty body", body: func(*testing.T) []byte { return nil }, wantHTTP: 200, wantCode: 400},
		{name: "no request", body: func(*testing.T) []byte {
			return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`)
		},
			wantHTTP: 200, wantCode: 400},
		{name: "wrong version", body: func(*testing.T) []byte {
			return []byte(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u4"}}`)
		}, wantHTTP: 200, wantUID: "u4", wantCode: 400},
		{name: "bad pod", body: func(*testing.T) []byte {
			return []byte(`{"request":{"uid":"u5","kind":{"kind":"Pod"},"object":{"spec":{"containers":"x"}}}}`)
		}, wantHTTP: 200, wantUID: "u5", wantCode: 400},
		{name: "no object", body: func(*testing.T) []byte { return []byte(`{"request":{"uid":"u6"}}`) },
			wantHTTP: 200, wantUID: "u6", wantCode: 400},
		{name: "wrong content type", contentType: "text/plain",
			body: func(t *testing.T) []byte { return review(t, podRequest(t, "u7", "apps", appPod())) }, wantHTTP: 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/json; charset=utf-8"
			}
			resp, body := post(t, srv.URL+MutatePath, ct, tt.body(t))
			require.Equal(t, tt.wantHTTP, resp.StatusCode, "%s", body)
			if tt.wantHTTP != http.StatusOK {
				return
			}
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			rv := requireReview(t, body)
			require.True(t, rv.Response.Allowed)
			require.Equal(t, tt.wantUID, string(rv.Response.UID))
			if tt.wantCode == 0 {
				require.Nil(t, rv.Response.Result)
			} else {
				require.NotNil(t, rv.Response.Result)
				require.Equal(t, tt.wantCode, rv.Response.Result.Code)
			}
			require.Equal(t, tt.wantPatch, rv.Response.Patch != nil)
			if tt.wantPatch {
				require.Equal(t, admissionv1.PatchTypeJSONPatch, *rv.Response.PatchType)
				raw, err := json.Marshal(appPod())
				require.NoError(t, err)
				p, err := jsonpatch.DecodePatch(rv.Response.Patch)
				require.NoError(t, err)
				out, err := p.Apply(raw)
				require.NoError(t, err)
				var pod corev1.Pod
				require.NoError(t, json.Unmarshal(out, &pod))
				require.Equal(t, DefaultImage, pod.Spec.InitContainers[0].Image)
				require.Contains(t, pod.Spec.Containers[0].Env, corev1.EnvVar{Name: EnvRoleARN, Value: testRoleARN})
			}
		})
	}

	t.Run("healthz", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/healthz")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "ok", string(b))
	})
	t.Run("GET mutate", func(t *testing.T) {
		resp, err := http.Get(srv.URL + MutatePath)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	})
	t.Run("too large", func(t *testing.T) {
		resp, _ := post(t, srv.URL+MutatePath, "application/json", []byte(`"`+strings.Repeat("a", admission.MaxReviewBytes)+`"`))
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	})
}

// TestMutateLookupError: an API failure leaves the pod unmutated and allowed.
func TestMutateLookupError(t *testing.T) {
	h, client := newTestHandler(t, Options{}, roleSA("apps", "app"))
	client.PrependReactor("get", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("apiserver down")
	})
	resp := h.Mutate(t.Context(), podRequest(t, "u", "apps", appPod()))
	require.True(t, resp.Allowed)
	require.Nil(t, resp.Patch)
	require.Equal(t, "u", string(resp.UID))
}

// TestMutateDefaultSA: a pod without serviceAccountName uses "default".
func TestMutateDefaultSA(t *testing.T) {
	h, _ := newTestHandler(t, Options{}, roleSA("apps", "default"))
	pod := appPod()
	pod.Spec.ServiceAccountName = ""
	resp := h.Mutate(t.Context(), podRequest(t, "u", "apps", pod))
	require.NotNil(t, resp.Patch)
	require.Nil(t, h.Mutate(t.Context(), nil).Patch)
}

func TestNew(t *testing.T) {
	_, err := New(t.Context(), Options{})
	require.ErrorIs(t, err, ErrNoClient)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = New(ctx, Options{Client: fakeClient()})
	require.Error(t, err)
}

// TestMutatePodPure: MutatePod never changes its input, is
// deterministic, mutates whatever the role (empty included), and gives
// nothing only for a pod without containers.
func TestMutatePodPure(t *testing.T) {
	pod := appPod()
	pod.Spec.InitContainers = []corev1.Container{{Name: "i", Env: []corev1.EnvVar{{Name: "X", Value: "1"}}}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "data"}}
	before := pod.DeepCopy()
	ops, err := MutatePod(pod, testRoleARN, Options{})
	require.NoError(t, err)
	require.Equal(t, before, pod)
	again, err := MutatePod(pod, testRoleARN, Options{})
	require.NoError(t, err)
	require.Equal(t, ops, again, "deterministic")
	require.Contains(t, ops, PatchOperation{Op: "add", Path: "/spec/volumes/-",
		Value: map[string]any{"name": "gtoken-volume", "emptyDir": map[string]any{"medium": "Memory"}}})

	empty, err := MutatePod(pod, "", Options{})
	require.NoError(t, err)
	require.NotEmpty(t, empty, "an empty role-arn annotation mutates, as upstream")
	for _, p := range []*corev1.Pod{nil, {}} {
		ops, err := MutatePod(p, testRoleARN, Options{})
		require.NoError(t, err)
		require.Nil(t, ops)
	}

	other := appPod()
	other.Name = "q"
	require.NotEqual(t, SessionName(pod, "containers", 0), SessionName(other, "containers", 0))
	require.NotEqual(t, SessionName(pod, "containers", 0), SessionName(pod, "containers", 1))
	require.NotEqual(t, SessionName(pod, "containers", 0), SessionName(pod, "initContainers", 0))
}

// TestMutateMissingServiceAccount: where upstream's process exits (logrus
// Fatalf on the lookup error) and the API server admits the pod unmutated,
// the pod is allowed unmutated and the webhook keeps answering.
func TestMutateMissingServiceAccount(t *testing.T) {
	h, _ := newTestHandler(t, Options{}, roleSA("apps", "app"))
	pod := appPod()
	pod.Spec.ServiceAccountName = "ghost"
	resp := h.Mutate(t.Context(), podRequest(t, "u", "apps", pod))
	require.True(t, resp.Allowed)
	require.Nil(t, resp.Patch)
	resp = h.Mutate(t.Context(), podRequest(t, "u2", "apps", appPod()))
	require.NotNil(t, resp.Patch, "still serving")
}

// TestServedPaths: upstream's /pods and the earlier labs' /mutate.
func TestServedPaths(t *testing.T) {
	h, _ := newTestHandler(t, Options{}, roleSA("apps", "app"))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: admission.ReviewTypeMeta, Request: podRequest(t, "u", "apps", appPod())})
	require.NoError(t, err)
	for _, path := range []string{"/pods", "/mutate"} {
		resp, body := post(t, srv.URL+path, "application/json", b)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.NotNil(t, requireReview(t, body).Response.Patch, path)
	}
}

func TestConfig(t *testing.T) {
	c := Config([]byte("CA"), "gtoken-webhook", "gtoken")
	require.Len(t, c.Webhooks, 1)
	w := c.Webhooks[0]
	require.Equal(t, admissionregistrationv1.Ignore, *w.FailurePolicy)
	require.Equal(t, admissionregistrationv1.SideEffectClassNone, *w.SideEffects)
	require.Equal(t, []byte("CA"), w.ClientConfig.CABundle)
	require.Equal(t, "gtoken", w.ClientConfig.Service.Namespace)
	require.Equal(t, "gtoken-webhook", w.ClientConfig.Service.Name)
	require.Equal(t, MutatePath, *w.ClientConfig.Service.Path)
	require.Equal(t, []string{"v1"}, w.AdmissionReviewVersions)
	require.Equal(t, []string{"pods"}, w.Rules[0].Resources)
	require.Equal(t, "gtoken.doit-intl.com", w.Name)
	require.Equal(t, "/pods", *w.ClientConfig.Service.Path)
	require.Equal(t, []metav1.LabelSelectorRequirement{{Key: "admission.gtoken/ignore", Operator: metav1.LabelSelectorOpDoesNotExist}},
		w.NamespaceSelector.MatchExpressions)
	require.Equal(t, []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, w.Rules[0].Operations)
}
