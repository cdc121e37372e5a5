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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/idlab/idlab/internal/patchdiff"
)

// lookupTimeout bounds the ServiceAccount GET, well under the webhook's
// 10 s timeoutSeconds.
const lookupTimeout = 3 * time.Second

// Options configures a Handler and MutatePod: upstream's server flags,
// the lab's client and logger. The zero value with a Client works.
type Options struct {
	// Image is the gtoken image of the injected containers (--image).
	// Defaults to DefaultImage.
	Image string
	// PullPolicy is their imagePullPolicy (--pull-policy). Defaults to
	// IfNotPresent.
	PullPolicy corev1.PullPolicy
	// VolumeName, VolumePath and TokenFileName name the token volume, where
	// every container mounts it and the token file in it (--volume-name,
	// --volume-path, --token-file). Default to VolumeName, MountPath and
	// TokenFileName.
	VolumeName, VolumePath, TokenFileName string
	// Client reads ServiceAccounts (get). Required by New.
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
	return o.withDefaults(), nil
}

// withDefaults fills every default but the client.
func (o Options) withDefaults() Options {
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.PullPolicy == "" {
		o.PullPolicy = corev1.PullIfNotPresent
	}
	if o.VolumeName == "" {
		o.VolumeName = VolumeName
	}
	if o.VolumePath == "" {
		o.VolumePath = MountPath
	}
	if o.TokenFileName == "" {
		o.TokenFileName = TokenFileName
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// tokenFile is AWS_WEB_IDENTITY_TOKEN_FILE and the gtoken containers'
// --file: the volume path, "/", the file name, as upstream joins them.
func (o Options) tokenFile() string { return o.VolumePath + "/" + o.TokenFileName }

// Handler is the webhook: an http.Handler for POST /pods (upstream's
// path), POST /mutate and GET /healthz.
type Handler struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	session sessionFunc // SessionName; upstream's tests fix it, as its testMode does
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
	h := &Handler{opts: opts, log: opts.Logger, session: SessionName}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("POST "+MutatePath, h.serveMutate)
	h.mux.HandleFunc("POST "+LegacyMutatePath, h.serveMutate)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	return h, nil
}

// ServeHTTP serves POST /pods, POST /mutate and GET /healthz.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Mutate answers one admission request: always allowed, with a JSONPatch
// when the pod's ServiceAccount carries amazonaws.com/role-arn (even
// empty). Requests it cannot read get a Result saying why. Where upstream
// stops its own process (a ServiceAccount it cannot read), the pod is
// allowed unmutated and the webhook stays up.
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

	roleARN, annotated, err := h.roleARN(ctx, pod.Namespace, sa)
	if err != nil {
		// Upstream logs this with logrus' Fatalf: its process exits, the
		// API server (failurePolicy Ignore) admits the pod unmutated, and so
		// are the pods created until the webhook is back.
		h.log.Warn("service account lookup failed, pod not mutated", "request_id", req.UID, "err", err)
		h.decision(req, &pod, sa, "skipped", err.Error())
		return allowed
	}
	if !annotated {
		h.decision(req, &pod, sa, "skipped", "service account has no "+AnnotationRoleARN+" annotation")
		return allowed
	}
	out, ok := mutatePod(&pod, roleARN, h.opts, h.session)
	if !ok {
		h.decision(req, &pod, sa, "skipped", "pod has no containers")
		return allowed
	}
	ops, err := patchdiff.Values("/spec", pod.Spec, out.Spec)
	if err == nil && !specPresent(req.Object.Raw) {
		ops = []PatchOperation{{Op: "add", Path: "/spec", Value: out.Spec}}
	}
	var patch []byte
	if err == nil {
		patch, err = json.Marshal(ops)
	}
	if err != nil {
		h.log.Error("encode patch", "request_id", req.UID, "err", err)
		return errorResponse(req.UID, http.StatusInternalServerError, fmt.Sprintf("encode patch: %v", err))
	}
	pt := admissionv1.PatchTypeJSONPatch
	allowed.Patch, allowed.PatchType = patch, &pt
	h.decision(req, &pod, sa, "mutated", roleARN)
	return allowed
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

// roleARN reads the ServiceAccount's role annotation and whether it has
// one. A ServiceAccount that does not exist, or any other lookup failure,
// is an error.
func (h *Handler) roleARN(ctx context.Context, namespace, name string) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	sa, err := h.opts.Client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", false, fmt.Errorf("get service account %s/%s: %w", namespace, name, err)
	}
	arn, ok := sa.Annotations[AnnotationRoleARN]
	return arn, ok, nil
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
