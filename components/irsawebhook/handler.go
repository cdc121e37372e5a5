package irsawebhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// Handler is the webhook: an http.Handler for /mutate (and /healthz),
// backed by a ServiceAccount cache.
type Handler struct {
	opts    Options
	log     *slog.Logger
	cache   *saCache
	sources []credentialSource
	mux     *http.ServeMux
	stop    func()
	// decoder reads AdmissionReviews as upstream's Handle does: client-go's
	// universal deserializer (JSON, YAML or protobuf) over a scheme that
	// does not know AdmissionReview, so any apiVersion and kind decode.
	decoder runtime.Decoder
}

// New lists the ServiceAccounts, starts watching them and
// returns the Handler. The watch runs until ctx ends or Close is called.
func New(ctx context.Context, opts Options) (*Handler, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	c := newSACache(opts)
	stop, err := c.start(ctx)
	if err != nil {
		return nil, fmt.Errorf("irsawebhook: start service account cache: %w", err)
	}
	sources := []credentialSource{irsaSource{cache: c, region: opts.Region}}
	if cc := opts.ContainerCredentials; cc.ConfigFile != "" {
		ids := &identities{path: filepath.Clean(cc.ConfigFile), log: opts.Logger}
		// The first load happens before the watch returns; one that
		// fails is retried, as upstream retries it.
		stopWatch, err := ids.watch(ctx)
		if err != nil {
			stop()
			return nil, fmt.Errorf("irsawebhook: %w", err)
		}
		stopCache := stop
		stop = func() { stopWatch(); stopCache() }
		// EKS Pod Identity first: an associated service account's IRSA
		// annotation is ignored.
		sources = append([]credentialSource{containerCredentialsSource{ids: ids, cache: c, opts: cc, region: opts.Region}}, sources...)
	}
	h := &Handler{
		opts:    opts,
		log:     opts.Logger,
		cache:   c,
		sources: sources,
		stop:    stop,
		decoder: serializer.NewCodecFactory(runtime.NewScheme()).UniversalDeserializer(),
	}
	// Any method, as upstream's mux.
	h.mux = http.NewServeMux()
	h.mux.HandleFunc(MutatePath, h.serveMutate)
	h.mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	return h, nil
}

// Close stops the watch. It is safe to call more than once.
func (h *Handler) Close() {
	if h.stop != nil {
		h.stop()
	}
}

// ServeHTTP serves /mutate and /healthz.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Mutate answers one admission request as upstream's MutatePod does: allowed,
// with a JSONPatch when the pod's ServiceAccount asks for credentials; not
// allowed, with a status message only, when there is no request ("bad
// content") or its object is not a pod's JSON. The response's UID is left
// for the caller to set (ServeHTTP copies the request's), as upstream's
// Handle does.
func (h *Handler) Mutate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if req == nil {
		h.decision(&admissionv1.AdmissionRequest{}, nil, "", false, msgBadContent)
		return refused(msgBadContent)
	}
	if req.Kind.Kind != "" && (req.Kind.Group != "" || req.Kind.Kind != "Pod") {
		h.decision(req, nil, "", false, "not a pod: "+req.Kind.String())
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		h.log.Error("decode pod", "request_id", req.UID, "err", err)
		h.decision(req, nil, "", false, fmt.Sprintf("decode pod: %v", err))
		return refused(err.Error())
	}
	// The request's namespace is authoritative (a pod created with
	// generateName in a namespaced URL often has none of its own).
	namespace := req.Namespace
	if namespace == "" {
		namespace = pod.Namespace
	}
	pod.Namespace = namespace
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}

	allowed := &admissionv1.AdmissionResponse{Allowed: true}
	var cfg *PatchConfig
	var source string
	for _, s := range h.sources {
		c, err := s.patchConfig(ctx, &pod, namespace, sa)
		if err != nil {
			// failurePolicy Ignore semantics from our side: the pod goes
			// ahead unmutated, and the log says why.
			h.log.Warn("credential source failed, pod not mutated", "source", s.name(), "request_id", req.UID, "err", err)
			h.decision(req, &pod, sa, false, fmt.Sprintf("%s: %v", s.name(), err))
			return allowed
		}
		if c != nil {
			cfg, source = c, s.name()
			break
		}
	}
	if cfg == nil {
		h.decision(req, &pod, sa, false, "service account has no pod identity association and no role-arn annotation, or does not exist")
		return allowed
	}
	if pa := parsePodAnnotations(&pod); pa.SkipErr != nil {
		h.log.Info("could not parse skip-containers annotation, skipping none", "request_id", req.UID, "err", pa.SkipErr)
	}
	ops, changed := PodPatch(&pod, *cfg)
	patch, err := json.Marshal(ops)
	if err != nil {
		h.log.Error("encode patch", "request_id", req.UID, "err", err)
		h.decision(req, &pod, sa, false, fmt.Sprintf("encode patch: %v", err))
		return refused(err.Error())
	}
	pt := admissionv1.PatchTypeJSONPatch
	allowed.Patch, allowed.PatchType = patch, &pt
	reason := source
	if !changed {
		// Upstream's words for a patch that changes nothing.
		reason += "; required volume mounts and env variables were already present"
	}
	if skipped := skippedContainers(&pod, cfg.SkipContainers); len(skipped) > 0 {
		reason += "; skip-containers left alone: " + strings.Join(skipped, ",")
	}
	h.decision(req, &pod, sa, changed, reason)
	return allowed
}

// msgBadContent is upstream's status message for a review without a request.
const msgBadContent = "bad content"

// refused is upstream's answer to a request it cannot read: not allowed,
// with msg as the status message and nothing else.
func refused(msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Result: &metav1.Status{Message: msg}}
}

// AdmissionMessage is the msg of the one line the webhook logs for every
// admission request it answers, whose fields AdmissionLog reads back.
const AdmissionMessage = "admission"

// decision logs the request's one admission line: the pod (namespace and
// name, or generateName before the API server names it), the request's
// UID, whether the pod was mutated and why, with the fields every lab
// decision log carries. Scenarios read it as the evidence that the webhook
// saw a pod it left alone (with failurePolicy Ignore an absent webhook
// leaves it alone too).
func (h *Handler) decision(req *admissionv1.AdmissionRequest, pod *corev1.Pod, sa string, mutated bool, reason string) {
	namespace, name, principal := req.Namespace, req.Name, ""
	if pod != nil {
		namespace, name = pod.Namespace, pod.Name
		if name == "" {
			name = pod.GenerateName
		}
		principal = "system:serviceaccount:" + pod.Namespace + ":" + sa
	}
	decision := "skipped"
	if mutated {
		decision = "mutated"
	}
	h.log.Info(AdmissionMessage, "namespace", namespace, "pod", name, "request_id", req.UID, "mutated", mutated,
		"decision", decision, "principal", principal, "action", "pods.create", "resource", namespace+"/"+name, "reason", reason)
}

// skippedContainers names the pod's containers and init containers that
// skip-containers leaves alone.
func skippedContainers(pod *corev1.Pod, skip map[string]bool) []string {
	var out []string
	for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
		if skip[c.Name] {
			out = append(out, c.Name)
		}
	}
	return out
}
