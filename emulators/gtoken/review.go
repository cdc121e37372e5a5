package gtoken

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxReviewBytes bounds an AdmissionReview body; the API server's own object
// limit is 3 MiB.
const maxReviewBytes = 8 << 20

var reviewTypeMeta = metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"}

// serveMutate decodes an AdmissionReview, answers it with Mutate and writes
// the AdmissionReview back. Transport problems (content type, size) are HTTP
// errors; anything the body says wrong is an AdmissionReview with an error
// status, its uid echoed when it could be read.
func (h *Handler) serveMutate(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "invalid Content-Type, expected `application/json`", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReviewBytes))
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
	if err := decodeReview(body, &in); err != nil {
		h.log.Error("decode admission review", "err", err)
		resp = errorResponse("", http.StatusBadRequest, err.Error())
	} else {
		resp = h.Mutate(r.Context(), in.Request)
	}
	if in.Request != nil {
		resp.UID = in.Request.UID
	}
	out, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: reviewTypeMeta, Response: resp})
	if err != nil {
		http.Error(w, fmt.Sprintf("encode admission review: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// decodeReview reads an admission.k8s.io/v1 AdmissionReview. A body that is
// JSON but of the wrong type still fills what it can into rv (the uid).
func decodeReview(body []byte, rv *admissionv1.AdmissionReview) error {
	if len(body) == 0 {
		return errors.New("decode admission review: empty body")
	}
	if err := json.Unmarshal(body, rv); err != nil {
		return fmt.Errorf("decode admission review: %w", err)
	}
	if rv.APIVersion != "" && rv.APIVersion != reviewTypeMeta.APIVersion {
		return fmt.Errorf("decode admission review: apiVersion %q, want %q", rv.APIVersion, reviewTypeMeta.APIVersion)
	}
	if rv.Kind != "" && rv.Kind != reviewTypeMeta.Kind {
		return fmt.Errorf("decode admission review: kind %q, want %q", rv.Kind, reviewTypeMeta.Kind)
	}
	if rv.Request == nil {
		return errors.New("decode admission review: bad content: no request")
	}
	return nil
}
