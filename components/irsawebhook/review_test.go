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

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		wantStatus  int
		// For AdmissionReview answers:
		wantUID    string
		wantPatch  bool
		wantErrMsg string // substring of response.status.message; "" = no status
	}{
		{name: "mutates", body: reviewBody(t, podRequest(t, "u-1", "apps", appPod("apps", "app"))), wantStatus: 200, wantUID: "u-1", wantPatch: true},
		{name: "charset in content type", contentType: "application/json; charset=utf-8", body: reviewBody(t, podRequest(t, "u-cs", "apps", appPod("apps", "app"))), wantStatus: 200, wantUID: "u-cs", wantPatch: true},
		{name: "no role-arn, no patch", body: reviewBody(t, podRequest(t, "u-2", "apps", appPod("apps", "plain"))), wantStatus: 200, wantUID: "u-2"},
		{name: "not a pod", body: reviewBody(t, configMapReq), wantStatus: 200, wantUID: "u-cm"},
		{name: "malformed JSON", body: `{"apiVersion":`, wantStatus: 200, wantErrMsg: "decode admission review"},
		{name: "empty body", body: ``, wantStatus: 200, wantErrMsg: "empty body"},
		{name: "no request", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, wantStatus: 200, wantErrMsg: "no request"},
		{name: "wrong field type keeps uid", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-3","operation":5}}`, wantStatus: 200, wantUID: "u-3", wantErrMsg: "decode admission review"},
		{name: "object is not a pod", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-4","namespace":"apps","object":{"spec":{"containers":"nope"}}}}`, wantStatus: 200, wantUID: "u-4", wantErrMsg: "decode pod"},
		{name: "no object", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-5"}}`, wantStatus: 200, wantUID: "u-5", wantErrMsg: "no object"},
		{name: "v1beta1 review", body: `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"u-6"}}`, wantStatus: 200, wantUID: "u-6", wantErrMsg: "apiVersion"},
		{name: "wrong content type", contentType: "text/plain", body: `{}`, wantStatus: http.StatusUnsupportedMediaType},
		{name: "GET mutate", method: http.MethodGet, wantStatus: http.StatusMethodNotAllowed},
		{name: "healthz", method: http.MethodGet, path: "/healthz", wantStatus: 200},
		{name: "unknown path", path: "/validate", wantStatus: http.StatusNotFound},
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
			if res.StatusCode != 200 || path != MutatePath {
				return
			}
			require.Equal(t, "application/json", res.Header.Get("Content-Type"))
			rv := requireReview(t, body)
			require.Equal(t, tt.wantUID, string(rv.Response.UID))
			require.True(t, rv.Response.Allowed)
			if tt.wantErrMsg == "" {
				require.Nil(t, rv.Response.Result)
			} else {
				require.NotNil(t, rv.Response.Result)
				require.Equal(t, metav1.StatusFailure, rv.Response.Result.Status)
				require.EqualValues(t, http.StatusBadRequest, rv.Response.Result.Code)
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

// requireReview checks body is a well-formed admission.k8s.io/v1
// AdmissionReview response and returns it.
func requireReview(t *testing.T, body []byte) admissionv1.AdmissionReview {
	t.Helper()
	var rv admissionv1.AdmissionReview
	require.NoError(t, json.Unmarshal(body, &rv), "%s", body)
	require.Equal(t, "admission.k8s.io/v1", rv.APIVersion)
	require.Equal(t, "AdmissionReview", rv.Kind)
	require.Nil(t, rv.Request)
	require.NotNil(t, rv.Response)
	return rv
}

func TestMutateNilRequest(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	resp := h.Mutate(t.Context(), nil)
	require.True(t, resp.Allowed)
	require.Contains(t, resp.Result.Message, "no request")
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{name: "no client", opts: Options{}, want: "Client is required"},
		{name: "expiration too short", opts: Options{DefaultTokenExpiration: 60}, want: "outside 600..86400"},
		{name: "expiration too long", opts: Options{DefaultTokenExpiration: 90000}, want: "outside 600..86400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name != "no client" {
				tt.opts.Client = fakeClient()
			}
			_, err := New(t.Context(), tt.opts)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
