package labca

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/idlab/idlab/internal/admission"
)

// MutatePath is where the API server posts AdmissionReviews.
const MutatePath = "/mutate"

// Options configures a Handler. The zero value works.
type Options struct {
	// Logger receives one line per admission. Defaults to discard.
	Logger *slog.Logger
}

// Handler is the webhook: an http.Handler for POST /mutate and GET
// /healthz. It reads nothing from the API server: the
// MutatingWebhookConfiguration's namespaceSelector picks the namespaces.
type Handler struct {
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the Handler.
func New(opts Options) *Handler {
	h := &Handler{log: opts.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("POST "+MutatePath, func(w http.ResponseWriter, r *http.Request) {
		admission.Serve(w, r, h.log, h.Mutate)
	})
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	return h
}

// ServeHTTP serves POST /mutate and GET /healthz.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Mutate answers one admission request: always allowed, with MutatePod's
// patch for a pod. Requests it cannot read get a Result saying why.
func (h *Handler) Mutate(_ context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if req == nil {
		return admission.ErrorResponse("", http.StatusBadRequest, "bad content: no request")
	}
	allowed := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	if req.Kind.Kind != "" && (req.Kind.Group != "" || req.Kind.Kind != "Pod") {
		h.decision(req, nil, "skipped", "not a pod: "+req.Kind.String())
		return allowed
	}
	if len(req.Object.Raw) == 0 {
		return admission.ErrorResponse(req.UID, http.StatusBadRequest, "bad content: no object")
	}
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		h.log.Error("decode pod", "request_id", req.UID, "err", err)
		return admission.ErrorResponse(req.UID, http.StatusBadRequest, fmt.Sprintf("decode pod: %v", err))
	}
	if req.Namespace != "" {
		pod.Namespace = req.Namespace
	}
	ops := MutatePod(&pod)
	if ops == nil {
		h.decision(req, &pod, "skipped", "every container trusts the lab CA already, or the pod opts out ("+SkipLabel+") or has its own "+VolumeName+" volume")
		return allowed
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return admission.ErrorResponse(req.UID, http.StatusInternalServerError, fmt.Sprintf("encode patch: %v", err))
	}
	pt := admissionv1.PatchTypeJSONPatch
	allowed.Patch, allowed.PatchType = patch, &pt
	h.decision(req, &pod, "mutated", fmt.Sprintf("%d patch operations", len(ops)))
	return allowed
}

// decision logs one admission outcome with the fields of the lab's other
// webhooks' lines.
func (h *Handler) decision(req *admissionv1.AdmissionRequest, pod *corev1.Pod, decision, reason string) {
	resource := req.Namespace + "/" + req.Name
	if pod != nil {
		name := pod.Name
		if name == "" {
			name = pod.GenerateName
		}
		resource = pod.Namespace + "/" + name
	}
	h.log.Info("admission", "decision", decision, "action", "pods.create", "resource", resource, "reason", reason, "request_id", req.UID)
}
