package irsawebhook

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/internal/admission"
)

// reviewBody wraps req in an admission.k8s.io/v1 AdmissionReview.
func reviewBody(t *testing.T, req *admissionv1.AdmissionRequest) string {
	t.Helper()
	b, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: admission.ReviewTypeMeta, Request: req})
	require.NoError(t, err)
	return string(b)
}

func TestServeHTTP(t *testing.T) {
	sas := []*corev1.ServiceAccount{
		roleSA("apps", "app"),
		{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "plain"}},
	}
	h, _ := newTestHandler(t, Options{Region: "us-west-2"}, sas[0], sas[1])
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	configMapReq := podRequest(t, "u-cm", "apps", appPod("apps", "app"))
	configMapReq.Kind = metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	v1 := "admission.k8s.io/v1"

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		wantStatus  int
		wantBody    string // for answers that are not an AdmissionReview
		// For AdmissionReview answers:
		wantAPIVersion string // echoed from the review
		wantUID        string
		wantPatch      bool
		wantErrMsg     string // substring of response.status.message; "" = allowed, no status
	}{
		{name: "mutates", body: reviewBody(t, podRequest(t, "u-1", "apps", appPod("apps", "app"))), wantStatus: 200, wantAPIVersion: v1, wantUID: "u-1", wantPatch: true},
		{name: "no role-arn, no patch", body: reviewBody(t, podRequest(t, "u-2", "apps", appPod("apps", "plain"))), wantStatus: 200, wantAPIVersion: v1, wantUID: "u-2"},
		{name: "not a pod", body: reviewBody(t, configMapReq), wantStatus: 200, wantAPIVersion: v1, wantUID: "u-cm"},
		{name: "malformed JSON", body: `{"apiVersion":`, wantStatus: 200, wantErrMsg: "couldn't get version/kind; json parse error"},
		{name: "empty body", body: ``, wantStatus: 200, wantErrMsg: "bad content"},
		{name: "no request", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, wantStatus: 200, wantAPIVersion: v1, wantErrMsg: "bad content"},
		{name: "wrong field type keeps uid", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-3","operation":5}}`,
			wantStatus: 200, wantAPIVersion: v1, wantUID: "u-3", wantErrMsg: "cannot unmarshal number"},
		{name: "object is not a pod", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-4","namespace":"apps","object":{"spec":{"containers":"nope"}}}}`,
			wantStatus: 200, wantAPIVersion: v1, wantUID: "u-4", wantErrMsg: "json: cannot unmarshal string into Go struct field PodSpec.spec.containers"},
		{name: "no object", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-5"}}`,
			wantStatus: 200, wantAPIVersion: v1, wantUID: "u-5", wantErrMsg: "unexpected end of JSON input"},
		{name: "v1beta1 review is read and echoed", body: `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u-6","namespace":"apps","object":{"spec":{"serviceAccountName":"app","containers":[{"name":"a"}]}}}}`,
			wantStatus: 200, wantAPIVersion: "admission.k8s.io/v1beta1", wantUID: "u-6", wantPatch: true},
		{name: "YAML body", body: "request:\n  uid: u-7\n  namespace: apps\n  object: {spec: {serviceAccountName: app, containers: [{name: a}]}}\n",
			wantStatus: 200, wantUID: "u-7", wantPatch: true},
		{name: "wrong content type", contentType: "text/plain", body: `{}`, wantStatus: http.StatusUnsupportedMediaType, wantBody: contentTypeError + "\n"},
		{name: "charset in content type", contentType: "application/json; charset=utf-8", body: `{}`, wantStatus: http.StatusUnsupportedMediaType, wantBody: contentTypeError + "\n"},
		{name: "GET mutate", method: http.MethodGet, wantStatus: 200, wantErrMsg: "bad content"},
		{name: "too large", body: `{"x":"` + strings.Repeat("a", admission.MaxReviewBytes) + `"}`, wantStatus: http.StatusRequestEntityTooLarge, wantBody: "admission review too large\n"},
		{name: "healthz", method: http.MethodGet, path: "/healthz", wantStatus: 200, wantBody: "ok"},
		{name: "unknown path", path: "/validate", wantStatus: http.StatusNotFound, wantBody: "404 page not found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, path, ct := tt.method, tt.path, tt.contentType
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = MutatePath
			}
			if ct == "" {
				ct = "application/json"
			}
			req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(tt.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", ct)
			res, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, res.StatusCode, "%s", body)
			if tt.wantBody != "" {
				require.Equal(t, tt.wantBody, string(body))
				return
			}
			require.Equal(t, "application/json", res.Header.Get("Content-Type"))
			rv := requireReview(t, body)
			require.Equal(t, tt.wantAPIVersion, rv.APIVersion)
			require.Equal(t, tt.wantUID, string(rv.Response.UID))
			if tt.wantErrMsg == "" {
				require.True(t, rv.Response.Allowed)
				require.Nil(t, rv.Response.Result)
			} else {
				// Upstream's refusal: not allowed, a message and nothing else.
				require.False(t, rv.Response.Allowed)
				require.Equal(t, metav1.Status{Message: rv.Response.Result.Message}, *rv.Response.Result)
				require.Contains(t, rv.Response.Result.Message, tt.wantErrMsg)
			}
			require.Equal(t, tt.wantPatch, rv.Response.Patch != nil)
			if tt.wantPatch {
				require.Equal(t, admissionv1.PatchTypeJSONPatch, *rv.Response.PatchType)
				// On the wire the patch is base64 of a JSON Patch array.
				var wire struct {
					Response struct {
						Patch string `json:"patch"`
					} `json:"response"`
				}
				require.NoError(t, json.Unmarshal(body, &wire))
				raw, err := base64.StdEncoding.DecodeString(wire.Response.Patch)
				require.NoError(t, err)
				var ops []PatchOperation
				require.NoError(t, json.Unmarshal(raw, &ops))
				require.Equal(t, "/spec/volumes", ops[0].Path)
				require.Contains(t, string(raw), `{"name":"AWS_DEFAULT_REGION","value":"us-west-2"}`)
			}
		})
	}
}

// requireReview checks body is an AdmissionReview answer and returns it.
func requireReview(t *testing.T, body []byte) admissionv1.AdmissionReview {
	t.Helper()
	var rv admissionv1.AdmissionReview
	require.NoError(t, json.Unmarshal(body, &rv), "%s", body)
	require.Nil(t, rv.Request)
	require.NotNil(t, rv.Response)
	return rv
}

// TestDefaultTokenExpiration: Options raise a default lifetime below 600 s
// to 600 s and keep longer ones, as upstream's main.go treats its
// --token-expiration flag.
func TestDefaultTokenExpiration(t *testing.T) {
	for _, tt := range []struct{ in, want int64 }{{0, 86400}, {60, 600}, {-1, 600}, {600, 600}, {3600, 3600}, {90000, 90000}} {
		o, err := Options{Client: fakeClient(), DefaultTokenExpiration: tt.in}.normalize()
		require.NoError(t, err)
		require.Equal(t, tt.want, o.DefaultTokenExpiration, "in %d", tt.in)
	}
	_, err := New(t.Context(), Options{})
	require.ErrorIs(t, err, ErrNoClient)
}
