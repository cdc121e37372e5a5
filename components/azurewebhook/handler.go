package azurewebhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
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
// that miss the cache go to the API server. Without Options.NativeSidecar
// it asks the API server its version first, as upstream does at start.
func New(ctx context.Context, opts Options) (*Handler, error) {
	if opts.Client == nil {
		return nil, ErrNoClient
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.NativeSidecar == nil {
		native, err := serverAtLeast(opts.Client.Discovery(), nativeSidecarVersion)
		if err != nil {
			return nil, fmt.Errorf("azurewebhook: check kubernetes version: %w", err)
		}
		opts.NativeSidecar = &native
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

// deserializer decodes pods as upstream's controller-runtime decoder does:
// the universal deserializer of a scheme holding client-go's types.
var deserializer = serializer.NewCodecFactory(clientgoscheme.Scheme).UniversalDeserializer()

// decodePod decodes raw into a pod with upstream's errors.
func decodePod(raw []byte) (*corev1.Pod, error) {
	if len(raw) == 0 {
		return nil, errors.New("there is no content to decode")
	}
	var pod corev1.Pod
	if err := runtime.DecodeInto(deserializer, raw, &pod); err != nil {
		return nil, err
	}
	return &pod, nil
}

// Mutate answers one AdmissionRequest as upstream's handler does: the pod's
// ServiceAccount from the cache or the API server, then MutatePod. A pod
// that cannot be decoded, whose ServiceAccount cannot be read, or that
// MutatePod refuses gets a denial with code 400 and upstream's message.
// Requests other than pod creations are allowed untouched (the webhook
// configuration sends no others).
func (h *Handler) Mutate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true, Result: &metav1.Status{Code: http.StatusOK}}
	if req.Kind.Kind != "Pod" || req.Operation != admissionv1.Create {
		return resp
	}
	pod, err := decodePod(req.Object.Raw)
	if err != nil {
		return h.refuse(resp, "", req.Namespace, err)
	}
	name := podName(pod)
	// The pods of a Deployment or DaemonSet carry no namespace yet.
	pod.Namespace = req.Namespace
	saName := pod.Spec.ServiceAccountName
	if saName == "" {
		saName = "default"
	}
	log := h.log.With("pod", name, "namespace", req.Namespace, "service_account", saName, "request_id", string(req.UID))
	sa, err := h.cache.get(ctx, req.Namespace, saName)
	if err != nil {
		return h.refuse(resp, name, req.Namespace, err)
	}
	ops, out, err := MutatePod(pod, sa, h.opts)
	if err != nil {
		return h.refuse(resp, name, req.Namespace, err)
	}
	if len(ops) > 0 && !specPresent(req.Object.Raw) {
		// Every operation is under /spec: a pod sent without one gets it whole.
		ops = []PatchOp{{Op: "add", Path: "/spec", Value: out.Spec}}
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

// specPresent reports whether the raw pod has a member "spec" (exactly:
// the API server's decoding is case-sensitive) holding an object, which
// the patch's operations address.
func specPresent(raw []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return false
	}
	spec := top["spec"]
	return len(spec) > 0 && spec[0] == '{'
}

// refuse turns err into a denial with code 400 and err's text, as
// upstream's admission.Errored(http.StatusBadRequest, err).
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
