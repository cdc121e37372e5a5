package labca

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestMutateRefusals(t *testing.T) {
	h := New(Options{})
	tests := []struct {
		name     string
		req      *admissionv1.AdmissionRequest
		wantCode int32 // of Result; 0: none
	}{
		{"no request", nil, http.StatusBadRequest},
		{"not a pod", &admissionv1.AdmissionRequest{UID: "u", Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}}, 0},
		{"no object", &admissionv1.AdmissionRequest{UID: "u", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}}, http.StatusBadRequest},
		{"not a pod's JSON", &admissionv1.AdmissionRequest{UID: "u", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Object: runtime.RawExtension{Raw: []byte(`{"spec":{"containers":"app"}}`)}}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.Mutate(t.Context(), tc.req)
			require.True(t, resp.Allowed, "the webhook fails open")
			require.Nil(t, resp.Patch)
			if tc.wantCode == 0 {
				require.Nil(t, resp.Result)
				return
			}
			require.Equal(t, tc.wantCode, resp.Result.Code)
		})
	}
}

func TestServeHTTP(t *testing.T) {
	h := New(Options{})
	body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"version":"v1","kind":"Pod"},` +
		`"namespace":"apps","object":{"metadata":{"name":"p"},"spec":{"containers":[{"name":"app","image":"app"}]}}}}`
	req := httptest.NewRequest(http.MethodPost, MutatePath, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	var rv admissionv1.AdmissionReview
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &rv))
	require.Equal(t, "u1", string(rv.Response.UID))
	require.True(t, rv.Response.Allowed)
	require.Contains(t, string(rv.Response.Patch), `"SSL_CERT_FILE"`)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "ok", rec.Body.String())

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, MutatePath, nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
}
