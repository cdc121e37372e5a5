package admission

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestServe(t *testing.T) {
	allow := func(_ context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		return &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	}
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		code              int32 // of the review's Result; 0 = no error
		uid               types.UID
	}{
		{"answered", "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1"}}`, 200, 0, "u1"},
		{"no request", "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, 200, 400, ""},
		{"wrong version keeps the uid", "application/json", `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u2"}}`, 200, 400, "u2"},
		{"not json", "application/json", `{`, 200, 400, ""},
		{"empty", "application/json", ``, 200, 400, ""},
		{"wrong content type", "text/plain", `{}`, http.StatusUnsupportedMediaType, 0, ""},
		{"too large", "application/json", `{"x":"` + strings.Repeat("a", MaxReviewBytes) + `"}`, http.StatusRequestEntityTooLarge, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/mutate", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", tc.ctype)
			w := httptest.NewRecorder()
			Serve(w, r, nil, allow)
			require.Equal(t, tc.status, w.Code, w.Body.String())
			if tc.status != 200 {
				return
			}
			var out admissionv1.AdmissionReview
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
			require.True(t, out.Response.Allowed, "the webhook fails open")
			require.Equal(t, tc.uid, out.Response.UID)
			if tc.code == 0 {
				require.Nil(t, out.Response.Result)
				return
			}
			require.Equal(t, tc.code, out.Response.Result.Code)
		})
	}
}
