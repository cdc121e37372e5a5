package azurewebhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
)

func labelledPod(annotations map[string]string) []byte {
	pod := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "apps", Labels: map[string]string{UseLabel: "true"}, Annotations: annotations},
		Spec:       corev1.PodSpec{ServiceAccountName: "sa", Containers: []corev1.Container{{Name: "app", Image: "probe"}}},
	}
	b, _ := json.Marshal(pod)
	return b
}

func serviceAccount(annotations map[string]string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sa", Namespace: "apps", Annotations: annotations}}
}

func TestMutateRefusesAsUpstream(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sa     *corev1.ServiceAccount
		podAnn map[string]string
		msg    string
	}{
		{"service account missing", nil, nil, `serviceaccounts "sa" not found`},
		{"pod expiration too short", serviceAccount(nil), map[string]string{TokenExpirationAnnotation: "600"}, "token expiration 600 not valid"},
		{"sa expiration too long", serviceAccount(map[string]string{TokenExpirationAnnotation: "86401"}), nil, "token expiration 86401 not valid"},
		{"expiration not a number", serviceAccount(nil), map[string]string{TokenExpirationAnnotation: "1h"}, `strconv.ParseInt: parsing "1h": invalid syntax`},
		{"pod not JSON", serviceAccount(nil), nil, "couldn't get version/kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h *Handler
			if tc.sa != nil {
				h, _ = newTestHandler(t, tc.sa)
			} else {
				h, _ = newTestHandler(t)
			}
			raw := labelledPod(tc.podAnn)
			if tc.name == "pod not JSON" {
				raw = []byte("{")
			}
			resp := h.Mutate(t.Context(), podRequest("u1", "apps", raw))
			require.False(t, resp.Allowed)
			require.Equal(t, int32(http.StatusBadRequest), resp.Result.Code)
			require.Contains(t, resp.Result.Message, tc.msg)
			require.Nil(t, resp.Patch)
		})
	}
}

func TestMutateIgnoresOtherRequests(t *testing.T) {
	h, _ := newTestHandler(t)
	req := podRequest("u", "apps", labelledPod(nil))
	req.Operation = admissionv1.Update
	resp := h.Mutate(t.Context(), req)
	require.True(t, resp.Allowed)
	require.Nil(t, resp.Patch)
}

// A ServiceAccount created after the handler started is found: by the
// watch, or by the API GET when the cache has not caught up.
func TestServiceAccountCreatedLater(t *testing.T) {
	h, client := newTestHandler(t)
	_, err := client.CoreV1().ServiceAccounts("apps").Create(t.Context(),
		serviceAccount(map[string]string{ClientIDAnnotation: "cid"}), metav1.CreateOptions{})
	require.NoError(t, err)
	resp := h.Mutate(t.Context(), podRequest("u", "apps", labelledPod(nil)))
	require.True(t, resp.Allowed, "%v", resp.Result)
	require.Contains(t, string(resp.Patch), `"cid"`)

	require.Eventually(t, func() bool {
		h.cache.mu.RLock()
		defer h.cache.mu.RUnlock()
		_, ok := h.cache.items["apps/sa"]
		return ok
	}, 5*time.Second, 10*time.Millisecond, "watch never delivered the ServiceAccount")
	// A change to the annotation reaches the cache through the watch.
	_, err = client.CoreV1().ServiceAccounts("apps").Update(t.Context(),
		serviceAccount(map[string]string{ClientIDAnnotation: "cid-2"}), metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		resp := h.Mutate(t.Context(), podRequest("u", "apps", labelledPod(nil)))
		return bytes.Contains(resp.Patch, []byte(`"cid-2"`))
	}, 5*time.Second, 10*time.Millisecond)
}

func TestServeHTTP(t *testing.T) {
	h, _ := newTestHandler(t, serviceAccount(map[string]string{ClientIDAnnotation: "cid"}))
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  podRequest("review-uid", "apps", labelledPod(nil)),
	}
	body, err := json.Marshal(review)
	require.NoError(t, err)
	for _, path := range []string{"/mutate", "/mutate-v1-pod"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var out admissionv1.AdmissionReview
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
		require.Equal(t, "admission.k8s.io/v1", out.APIVersion)
		require.Equal(t, "AdmissionReview", out.Kind)
		require.Equal(t, review.Request.UID, out.Response.UID)
		require.True(t, out.Response.Allowed)
		require.Equal(t, admissionv1.PatchTypeJSONPatch, *out.Response.PatchType)
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{http.MethodGet, "/mutate", "", http.StatusMethodNotAllowed},
		{http.MethodPost, "/other", "{}", http.StatusNotFound},
		{http.MethodPost, "/mutate", "{", http.StatusBadRequest},
		{http.MethodPost, "/mutate", `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{}}`, http.StatusBadRequest},
		{http.MethodPost, "/mutate", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, http.StatusBadRequest},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, bytes.NewReader([]byte(tc.body))))
		require.Equal(t, tc.status, rec.Code, "%s %s %s", tc.method, tc.path, tc.body)
	}
}

func TestConfigMatchesUpstream(t *testing.T) {
	c := Config([]byte("CA"), "azure-wi-webhook-webhook-service", "azure-workload-identity-system")
	require.Len(t, c.Webhooks, 1)
	w := c.Webhooks[0]
	require.Equal(t, WebhookName, w.Name)
	require.Equal(t, map[string]string{UseLabel: "true"}, w.ObjectSelector.MatchLabels)
	require.Equal(t, "Fail", string(*w.FailurePolicy))
	require.Equal(t, "None", string(*w.SideEffects))
	require.Equal(t, "IfNeeded", string(*w.ReinvocationPolicy))
	require.Equal(t, WebhookPath, *w.ClientConfig.Service.Path)
	require.Equal(t, []byte("CA"), w.ClientConfig.CABundle)
	require.Equal(t, []string{"pods"}, w.Rules[0].Resources)
	require.Equal(t, "CREATE", string(w.Rules[0].Operations[0]))
}

func TestNewValidates(t *testing.T) {
	_, err := New(t.Context(), Options{})
	require.ErrorIs(t, err, ErrNoClient)
	_, err = New(t.Context(), Options{Client: fakeClient(), Release: "v1.4.0"})
	require.ErrorIs(t, err, ErrUnknownRelease)
	_, err = New(t.Context(), Options{Client: fakeClient(), Cloud: "AzureStackCloud"})
	require.ErrorIs(t, err, ErrUnknownCloud)
	// Without NativeSidecar, New needs the server's version, as upstream.
	_, err = New(t.Context(), Options{Client: fake.NewClientset()})
	require.ErrorContains(t, err, "check kubernetes version")
	for server, native := range map[string]bool{"v1.31.9": false, "v1.32.0": true, "v1.35.1": true} {
		client := fakeClient()
		client.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: server}
		h, err := New(t.Context(), Options{Client: client})
		require.NoError(t, err)
		require.Equal(t, native, *h.opts.NativeSidecar, server)
		h.Close()
	}
}

// TestUnlabelledPodsAreTheConfigurationsBusiness: Mutate mutates any pod
// it is sent, as upstream's handler; the MutatingWebhookConfiguration's
// objectSelector is what keeps pods without the use label away.
func TestUnlabelledPodsAreTheConfigurationsBusiness(t *testing.T) {
	h, _ := newTestHandler(t, serviceAccount(map[string]string{ClientIDAnnotation: "cid"}))
	pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "apps"},
		Spec: corev1.PodSpec{ServiceAccountName: "sa", Containers: []corev1.Container{{Name: "app"}}}}
	raw, err := json.Marshal(pod)
	require.NoError(t, err)
	resp := h.Mutate(t.Context(), podRequest("u", "apps", raw))
	require.True(t, resp.Allowed)
	require.Contains(t, string(resp.Patch), `"cid"`)
	sel := Config(nil, "s", "n").Webhooks[0].ObjectSelector
	require.Equal(t, map[string]string{UseLabel: "true"}, sel.MatchLabels)
}
