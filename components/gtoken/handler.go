package gtoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// lookupTimeout bounds the ServiceAccount GET, well under the webhook's
// 10 s timeoutSeconds.
const lookupTimeout = 3 * time.Second

// Options configures a Handler. The zero value with a Client works.
type Options struct {
	// Image is the gtoken image of the injected containers. Defaults to
	// DefaultImage.
	Image string
	// Client reads ServiceAccounts (get). Required.
	Client kubernetes.Interface
	// Logger receives one line per admission decision. Defaults to discard.
	Logger *slog.Logger
}

// ErrNoClient is returned by New when Options.Client is nil.
var ErrNoClient = errors.New("gtoken: Options.Client is required")

func (o Options) normalize() (Options, error) {
	if o.Client == nil {
		return o, ErrNoClient
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Handler is the webhook: an http.Handler for POST /mutate and GET /healthz.
type Handler struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
}

// New returns the Handler. ServiceAccounts are read with a direct API GET
// per admission, as upstream does; ctx is unused beyond validation.
func New(ctx context.Context, opts Options) (*Handler, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	h := &Handler{opts: opts, log: opts.Logger}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("POST "+MutatePath, h.serveMutate)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	return h, nil
}

// ServeHTTP serves POST /mutate and GET /healthz.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Mutate answers one admission request: always allowed, with a JSONPatch
// when the pod's ServiceAccount carries amazonaws.com/role-arn. Requests it
// cannot read get a Result saying why.
func (h *Handler) Mutate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if req == nil {
		return errorResponse("", http.StatusBadRequest, "bad content: no request")
	}
	if req.Kind.Kind != "" && (req.Kind.Group != "" || req.Kind.Kind != "Pod") {
		h.decision(req, nil, "", "skipped", "not a pod: "+req.Kind.String())
		return &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	}
	if len(req.Object.Raw) == 0 {
		return errorResponse(req.UID, http.StatusBadRequest, "bad content: no object")
	}
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		h.log.Error("decode pod", "request_id", req.UID, "err", err)
		return errorResponse(req.UID, http.StatusBadRequest, fmt.Sprintf("decode pod: %v", err))
	}
	// The request's namespace is authoritative (a pod created with
	// generateName in a namespaced URL often has none of its own).
	if req.Namespace != "" {
		pod.Namespace = req.Namespace
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	allowed := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}

	roleARN, err := h.roleARN(ctx, pod.Namespace, sa)
	if err != nil {
		// Upstream fails the admission (and failurePolicy Ignore lets the
		// pod through unmutated); we allow it directly and log why.
		h.log.Warn("service account lookup failed, pod not mutated", "request_id", req.UID, "err", err)
		h.decision(req, &pod, sa, "skipped", err.Error())
		return allowed
	}
	if roleARN == "" {
		h.decision(req, &pod, sa, "skipped", "service account has no "+AnnotationRoleARN+" annotation or does not exist")
		return allowed
	}
	ops := MutatePod(&pod, roleARN, h.opts)
	if ops == nil {
		h.decision(req, &pod, sa, "skipped", "pod already has the "+VolumeName+" volume or a gtoken container")
		return allowed
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		h.log.Error("encode patch", "request_id", req.UID, "err", err)
		return errorResponse(req.UID, http.StatusInternalServerError, fmt.Sprintf("encode patch: %v", err))
	}
	pt := admissionv1.PatchTypeJSONPatch
	allowed.Patch, allowed.PatchType = patch, &pt
	h.decision(req, &pod, sa, "mutated", roleARN)
	return allowed
}

// roleARN reads the ServiceAccount's role annotation; a missing
// ServiceAccount has none.
func (h *Handler) roleARN(ctx context.Context, namespace, name string) (string, error) {
	if namespace == "" {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	sa, err := h.opts.Client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get service account %s/%s: %w", namespace, name, err)
	}
	return sa.Annotations[AnnotationRoleARN], nil
}

// decision logs one admission outcome with the fields every lab decision
// log carries.
func (h *Handler) decision(req *admissionv1.AdmissionRequest, pod *corev1.Pod, sa, decision, reason string) {
	resource, principal := req.Namespace+"/"+req.Name, ""
	if pod != nil {
		name := pod.Name
		if name == "" {
			name = pod.GenerateName
		}
		resource = pod.Namespace + "/" + name
		principal = "system:serviceaccount:" + pod.Namespace + ":" + sa
	}
	h.log.Info("admission", "decision", decision, "principal", principal, "action", "pods.create",
		"resource", resource, "reason", reason, "request_id", req.UID)
}
