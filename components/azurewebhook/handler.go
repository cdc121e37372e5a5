package azurewebhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
)

// maxReviewBytes bounds an AdmissionReview body (the API server sends at
// most a few MiB for a pod).
const maxReviewBytes = 8 << 20

// Handler is the webhook: Mutate for AdmissionRequests, ServeHTTP for
// AdmissionReviews over HTTP.
type Handler struct {
	opts   Options
	log    *slog.Logger
	cache  *saCache
	cancel context.CancelFunc
	done   chan struct{}
}

// New starts the ServiceAccount cache (stopped by Close or when ctx ends)
// and returns the handler. It does not wait for the first list: lookups
// that miss the cache go to the API server.
func New(ctx context.Context, opts Options) (*Handler, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	h := &Handler{opts: opts, log: opts.Logger, cache: newSACache(opts.Client, opts.Logger), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		h.cache.run(ctx)
	}()
	return h, nil
}

// Close stops the ServiceAccount cache and waits for it.
func (h *Handler) Close() {
	h.cancel()
	<-h.done
}

// Mutate answers one AdmissionRequest: a JSONPatch for a labelled pod, an
// allowed response without patch for anything else, and a refusal (code
// 400) when the pod's ServiceAccount cannot be read or its token expiration
// is invalid, as upstream.
func (h *Handler) Mutate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	if req.Kind.Kind != "Pod" || req.Operation != admissionv1.Create {
		return resp
	}
	// Decoded case-sensitively as the API server does, so the patch paths
	// name members the raw object really has.
	var pod corev1.Pod
	if err := kjson.UnmarshalCaseSensitivePreserveInts(req.Object.Raw, &pod); err != nil {
		return h.refuse(resp, "", "", fmt.Errorf("decode pod: %w", err))
	}
	name := pod.Name
	if name == "" {
		name = pod.GenerateName + " (prefix)"
	}
	saName := pod.Spec.ServiceAccountName
	if saName == "" {
		saName = "default"
	}
	log := h.log.With("pod", name, "namespace", req.Namespace, "service_account", saName, "request_id", string(req.UID))
	if pod.Labels[UseLabel] != "true" {
		log.Debug("admission", "decision", "skip", "reason", "pod is not labelled "+UseLabel+"=true")
		return resp
	}
	if len(pod.Spec.Containers) == 0 {
		// Not a pod the API server would accept; nothing to give it.
		log.Debug("admission", "decision", "skip", "reason", "pod has no containers")
		return resp
	}
	sa, err := h.cache.get(ctx, req.Namespace, saName)
	if err != nil {
		return h.refuse(resp, name, req.Namespace, fmt.Errorf("get service account %s/%s: %w", req.Namespace, saName, err))
	}
	if _, ok := pod.Annotations[InjectProxySidecarAnnotation]; ok {
		log.Warn("proxy sidecar requested; not emulated, pod mutated without it", "annotation", InjectProxySidecarAnnotation)
	}
	ops, _, err := MutatePod(&pod, sa, h.opts)
	if err != nil {
		return h.refuse(resp, name, req.Namespace, err)
	}
	id := identityFor(sa, h.opts)
	log.Info("admission", "decision", "mutate", "principal", "system:serviceaccount:"+req.Namespace+":"+saName,
		"action", "inject-workload-identity", "resource", "pods/"+name, "client_id", id.ClientID, "tenant_id", id.TenantID,
		"reason", fmt.Sprintf("%d patch operations", len(ops)))
	if len(ops) == 0 {
		return resp
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return h.refuse(resp, name, req.Namespace, fmt.Errorf("encode patch: %w", err))
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = patch, &pt
	return resp
}

// refuse turns err into a denial with code 400, as upstream's
// admission.Errored(http.StatusBadRequest, err).
func (h *Handler) refuse(resp *admissionv1.AdmissionResponse, pod, ns string, err error) *admissionv1.AdmissionResponse {
	h.log.Warn("admission", "decision", "deny", "resource", "pods/"+pod, "namespace", ns, "reason", err.Error(), "request_id", string(resp.UID))
	resp.Allowed = false
	resp.Result = &metav1.Status{Code: http.StatusBadRequest, Message: err.Error()}
	return resp
}

// mutatePaths are the paths ServeHTTP answers: the lab's and upstream's.
var mutatePaths = []string{"/mutate", "/mutate-v1-pod"}

// ServeHTTP answers POST /mutate with an AdmissionReview. A body that is not
// an admission.k8s.io/v1 AdmissionReview with a request gets 400.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !slices.Contains(mutatePaths, r.URL.Path) {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReviewBytes+1))
	if err != nil || len(body) > maxReviewBytes {
		http.Error(w, "request body unreadable or too large", http.StatusBadRequest)
		return
	}
	review, err := decodeReview(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out := admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: h.Mutate(r.Context(), review.Request)}
	b, err := json.Marshal(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// decodeReview parses an admission.k8s.io/v1 AdmissionReview with a request.
func decodeReview(body []byte) (*admissionv1.AdmissionReview, error) {
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		return nil, fmt.Errorf("decode AdmissionReview: %w", err)
	}
	if review.APIVersion != "admission.k8s.io/v1" || review.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("want admission.k8s.io/v1 AdmissionReview, got %s %s", review.APIVersion, review.Kind)
	}
	if review.Request == nil {
		return nil, fmt.Errorf("AdmissionReview has no request")
	}
	return &review, nil
}
