// Package admission is the AdmissionReview plumbing of the lab's mutating
// webhooks: bounded decoding, error reviews that still allow the pod, and
// the JSON answer (gtoken's), the webhook configuration and the server
// manifests (all three). The IRSA webhook answers reviews as its upstream
// does instead (components/irsawebhook) and takes only MaxReviewBytes here.
package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// MaxReviewBytes bounds an AdmissionReview body; the API server's own object
// limit is 3 MiB.
const MaxReviewBytes = 8 << 20

// ReviewTypeMeta is the apiVersion and kind of admission.k8s.io/v1 reviews.
var ReviewTypeMeta = metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"}

// Mutate answers one admission request.
type Mutate func(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse

// Serve decodes an AdmissionReview, answers it with mutate and writes the
// AdmissionReview back. Transport problems (content type, size) are HTTP
// errors as the upstream webhooks answer them; anything the body says wrong
// is an AdmissionReview with an error status, its uid echoed when it could
// be read.
// A nil log discards.
func Serve(w http.ResponseWriter, r *http.Request, log *slog.Logger, mutate Mutate) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		log.Error("admission review content type", "content_type", r.Header.Get("Content-Type"))
		http.Error(w, "invalid Content-Type, expected `application/json`", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxReviewBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "admission review too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, fmt.Sprintf("read admission review: %v", err), http.StatusBadRequest)
		return
	}

	var in admissionv1.AdmissionReview
	var resp *admissionv1.AdmissionResponse
	if err := DecodeReview(body, &in); err != nil {
		log.Error("decode admission review", "err", err)
		resp = ErrorResponse("", http.StatusBadRequest, err.Error())
	} else {
		resp = mutate(r.Context(), in.Request)
	}
	if in.Request != nil {
		resp.UID = in.Request.UID
	}
	out, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: ReviewTypeMeta, Response: resp})
	if err != nil {
		http.Error(w, fmt.Sprintf("encode admission review: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// DecodeReview reads an admission.k8s.io/v1 AdmissionReview. A body that is
// JSON but of the wrong type still fills what it can into rv (the uid).
func DecodeReview(body []byte, rv *admissionv1.AdmissionReview) error {
	if len(body) == 0 {
		return errors.New("decode admission review: empty body")
	}
	if err := json.Unmarshal(body, rv); err != nil {
		return fmt.Errorf("decode admission review: %w", err)
	}
	if rv.APIVersion != "" && rv.APIVersion != ReviewTypeMeta.APIVersion {
		return fmt.Errorf("decode admission review: apiVersion %q, want %q", rv.APIVersion, ReviewTypeMeta.APIVersion)
	}
	if rv.Kind != "" && rv.Kind != ReviewTypeMeta.Kind {
		return fmt.Errorf("decode admission review: kind %q, want %q", rv.Kind, ReviewTypeMeta.Kind)
	}
	if rv.Request == nil {
		return errors.New("decode admission review: bad content: no request")
	}
	return nil
}

// ErrorResponse allows the pod (the webhooks fail open, as failurePolicy
// Ignore would) and says what went wrong.
func ErrorResponse(uid types.UID, code int32, msg string) *admissionv1.AdmissionResponse {
	reason := metav1.StatusReasonInternalError
	if code == http.StatusBadRequest {
		reason = metav1.StatusReasonBadRequest
	}
	return &admissionv1.AdmissionResponse{
		UID:     uid,
		Allowed: true,
		Result:  &metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg},
	}
}
