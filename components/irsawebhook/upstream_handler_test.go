package irsawebhook

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// The cases of upstream's pkg/handler/handler_test.go at upstreamCommit:
// TestMutatePod (3), TestMutatePod_MutationNotNeeded (1) and
// TestModifierHandler (7), with upstream's inputs and expected answers.

// upstreamUID is the request UID upstream's handler tests send.
const upstreamUID = "918ef1dc-928f-4525-99ef-988389f263c3"

// upstreamPod is the pod of upstream's handler tests (rawPodWithoutVolume).
var upstreamPod = []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"balajilovesoreos","uid":"be8695c4-4ad0-4038-8786-c508853aa255"},` +
	`"spec":{"containers":[{"image":"amazonlinux","name":"balajilovesoreos"}],"serviceAccountName":"default"}}`)

// upstreamPatch is the patch upstream expects for upstreamPod
// (validPatchIfNoVolumesPresent).
const upstreamPatch = `[{"op":"add","path":"/spec/volumes","value":[{"name":"aws-iam-token","projected":{"sources":[{"serviceAccountToken":` +
	`{"audience":"sts.amazonaws.com","expirationSeconds":3600,"path":"token"}}]}}]},{"op":"add","path":"/spec/containers","value":` +
	`[{"name":"balajilovesoreos","image":"amazonlinux","env":[{"name":"AWS_ROLE_ARN","value":"arn:aws:iam::111122223333:role/s3-reader"},` +
	`{"name":"AWS_WEB_IDENTITY_TOKEN_FILE","value":"/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}],"resources":{},` +
	`"volumeMounts":[{"name":"aws-iam-token","readOnly":true,"mountPath":"/var/run/secrets/eks.amazonaws.com/serviceaccount"}]}]}]`

// upstreamRequest is upstream's getValidReview request for upstreamPod.
func upstreamRequest() *admissionv1.AdmissionRequest {
	return &admissionv1.AdmissionRequest{
		UID:       upstreamUID,
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Namespace: "default",
		Operation: admissionv1.Create,
		UserInfo: authenticationv1.UserInfo{
			Username: "kubernetes-admin",
			UID:      "aws-iam-authenticator:111122223333:AROAR2TG44V5CLZCFPOQZ",
			Groups:   []string{"system:authenticated", "system:masters"},
		},
		Object: runtime.RawExtension{Raw: upstreamPod},
	}
}

// upstreamAllowed is upstream's getValidHandlerResponse.
func upstreamAllowed(uid types.UID) *admissionv1.AdmissionResponse {
	pt := admissionv1.PatchTypeJSONPatch
	return &admissionv1.AdmissionResponse{UID: uid, Allowed: true, Patch: []byte(upstreamPatch), PatchType: &pt}
}

// upstreamHandler is the webhook of upstream's handler tests: the
// ServiceAccount default/default with a role and a 3600 s lifetime (none
// with withSA false), no container credentials.
func upstreamHandler(t *testing.T, withSA bool) *Handler {
	t.Helper()
	var objs []runtime.Object
	if withSA {
		objs = append(objs, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default", Annotations: map[string]string{
			AnnotationRoleARN:         "arn:aws:iam::111122223333:role/s3-reader",
			AnnotationTokenExpiration: "3600",
		}}})
	}
	h, _ := newTestHandler(t, Options{}, objs...)
	return h
}

// mutateCase is a case of TestMutatePod or TestMutatePod_MutationNotNeeded:
// Mutate's answer to req, compared whole.
type mutateCase struct {
	name   string
	withSA bool
	req    *admissionv1.AdmissionRequest
	want   *admissionv1.AdmissionResponse
	diff   string
}

func upstreamMutateCases() []mutateCase {
	badContent := &admissionv1.AdmissionResponse{Result: &metav1.Status{Message: "bad content"}}
	return []mutateCase{
		// Upstream passes a nil review; idlab's Mutate takes the request.
		{name: "TestMutatePod/nilBody", withSA: true, want: badContent},
		{name: "TestMutatePod/NoRequest", withSA: true, want: badContent},
		{name: "TestMutatePod/ValidRequest", withSA: true, req: upstreamRequest(), want: upstreamAllowed("")},
		{name: "TestMutatePod_MutationNotNeeded", req: upstreamRequest(), want: &admissionv1.AdmissionResponse{Allowed: true}},
	}
}

// handlerCase is a case of TestModifierHandler: the HTTP answer's body to
// a POST of body with contentType.
type handlerCase struct {
	name, contentType string
	body              []byte // nil: no body
	want              string
	diff              string
}

func upstreamHandlerHTTPCases() []handlerCase {
	review := func(rv admissionv1.AdmissionReview) []byte {
		b, err := json.Marshal(rv)
		if err != nil {
			panic(err) // an AdmissionReview always encodes
		}
		return b
	}
	badContent := string(review(admissionv1.AdmissionReview{Response: &admissionv1.AdmissionResponse{Result: &metav1.Status{Message: "bad content"}}}))
	v1 := metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}
	return []handlerCase{
		{name: "TestModifierHandler/nilBody", contentType: "application/json", want: badContent},
		{name: "TestModifierHandler/NoRequest", contentType: "application/json", body: review(admissionv1.AdmissionReview{}), want: badContent},
		{name: "TestModifierHandler/BadContentType", contentType: "application/xml", body: review(admissionv1.AdmissionReview{}),
			want: "Invalid Content-Type, expected `application/json`\n"},
		{name: "TestModifierHandler/InvalidJSON", contentType: "application/json", body: []byte(`{"request": {"object": "\"metadata\":{\"name\":\"fake\""}`),
			want: `{"response":{"uid":"","allowed":false,"status":{"metadata":{},"message":"couldn't get version/kind; json parse error: unexpected end of JSON input"}}}`},
		{name: "TestModifierHandler/InvalidPodBytes", contentType: "application/json", body: []byte(`{"request": {"object": "\"metadata\":{\"name\":\"fake\""}}`),
			want: `{"response":{"uid":"","allowed":false,"status":{"metadata":{},"message":"json: cannot unmarshal string into Go value of type v1.Pod"}}}`},
		{name: "TestModifierHandler/ValidRequestSuccessWithoutVolumes", contentType: "application/json",
			body: review(admissionv1.AdmissionReview{Request: upstreamRequest()}),
			want: string(review(admissionv1.AdmissionReview{Response: upstreamAllowed(upstreamUID)}))},
		{name: "TestModifierHandler/ValidRequestV1TypeMetaEchoed", contentType: "application/json",
			body: review(admissionv1.AdmissionReview{TypeMeta: v1, Request: upstreamRequest()}),
			want: string(review(admissionv1.AdmissionReview{TypeMeta: v1, Response: upstreamAllowed(upstreamUID)}))},
	}
}

func upstreamHandlerCases() []upstreamCase {
	var out []upstreamCase
	for _, c := range upstreamMutateCases() {
		out = append(out, upstreamCase{name: c.name, diff: c.diff})
	}
	for _, c := range upstreamHandlerHTTPCases() {
		out = append(out, upstreamCase{name: c.name, diff: c.diff})
	}
	return out
}

func TestUpstreamMutatePod(t *testing.T) {
	for _, c := range upstreamMutateCases() {
		t.Run(c.name, func(t *testing.T) {
			require.Empty(t, c.diff, "no handler case differs")
			resp := upstreamHandler(t, c.withSA).Mutate(t.Context(), c.req)
			require.Equal(t, c.want, resp)
		})
	}
}

func TestUpstreamModifierHandler(t *testing.T) {
	srv := httptest.NewServer(upstreamHandler(t, true))
	t.Cleanup(srv.Close)
	for _, c := range upstreamHandlerHTTPCases() {
		t.Run(c.name, func(t *testing.T) {
			require.Empty(t, c.diff, "no handler case differs")
			var body io.Reader
			if c.body != nil {
				body = bytes.NewReader(c.body)
			}
			res, err := http.Post(srv.URL+MutatePath, c.contentType, body)
			require.NoError(t, err)
			defer res.Body.Close()
			got, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.Equal(t, c.want, string(got))
		})
	}
}
