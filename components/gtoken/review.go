package gtoken

import (
	"net/http"

	"github.com/idlab/idlab/internal/admission"
)

// serveMutate answers POST /mutate through the shared AdmissionReview
// plumbing with Mutate.
func (h *Handler) serveMutate(w http.ResponseWriter, r *http.Request) {
	admission.Serve(w, r, h.log, h.Mutate)
}

// errorResponse allows the pod and says what went wrong.
var errorResponse = admission.ErrorResponse
