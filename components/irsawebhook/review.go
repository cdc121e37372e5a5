package irsawebhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/idlab/idlab/internal/admission"
)

// contentTypeError is upstream's answer to a body that is not JSON by its
// Content-Type, which must be exactly application/json.
const contentTypeError = "Invalid Content-Type, expected `application/json`"

// serveMutate answers /mutate as upstream's Handle does: the Content-Type
// must be exactly application/json (else 415); a body that does not decode
// as an AdmissionReview is answered not allowed with the decoder's message;
// anything else goes to Mutate. The answer echoes the review's apiVersion
// and kind and the request's UID.
func (h *Handler) serveMutate(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, admission.MaxReviewBytes))
	if tooBig := new(http.MaxBytesError); errors.As(err, &tooBig) {
		// idlab's bound; upstream reads any size.
		http.Error(w, "admission review too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		// Upstream goes on with no body when reading fails.
		body = nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		h.log.Error("admission review content type", "content_type", ct)
		http.Error(w, contentTypeError, http.StatusUnsupportedMediaType)
		return
	}

	var in admissionv1.AdmissionReview
	var resp *admissionv1.AdmissionResponse
	if _, _, err := h.decoder.Decode(body, nil, &in); err != nil {
		h.log.Error("decode admission review", "err", err)
		h.decision(&admissionv1.AdmissionRequest{}, nil, "", false, fmt.Sprintf("decode admission review: %v", err))
		resp = refused(err.Error())
	} else {
		resp = h.Mutate(r.Context(), in.Request)
	}
	if in.Request != nil {
		resp.UID = in.Request.UID
	}
	out, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: in.TypeMeta, Response: resp})
	if err != nil {
		http.Error(w, fmt.Sprintf("could not encode response: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}
