package azurewebhook

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ErrInvalidExpiration is wrapped when a token expiration annotation is not
// an integer in MinTokenExpiration..MaxTokenExpiration.
var ErrInvalidExpiration = errors.New("invalid service account token expiration")

// PatchOp is one RFC 6902 JSON Patch operation of a mutation.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// identity is what the ServiceAccount and the webhook configuration give a pod.
type identity struct {
	ClientID, TenantID, AuthorityHost string
}

// identityFor reads the ServiceAccount's annotations: the tenant-id
// annotation wins whenever it is present, even empty, as upstream.
func identityFor(sa *corev1.ServiceAccount, opts Options) identity {
	id := identity{ClientID: sa.Annotations[ClientIDAnnotation], TenantID: opts.TenantID, AuthorityHost: opts.AuthorityHost}
	if t, ok := sa.Annotations[TenantIDAnnotation]; ok {
		id.TenantID = t
	}
	if id.AuthorityHost == "" {
		id.AuthorityHost = DefaultAuthorityHost
	}
	return id
}

// tokenExpiration is the pod's annotation, else the ServiceAccount's, else
// the default, and must lie in 3600..86400.
func tokenExpiration(pod *corev1.Pod, sa *corev1.ServiceAccount) (int64, error) {
	exp := DefaultTokenExpiration
	raw := pod.Annotations[TokenExpirationAnnotation]
	if raw == "" {
		raw = sa.Annotations[TokenExpirationAnnotation]
	}
	if raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %q: %w", ErrInvalidExpiration, raw, err)
		}
		exp = n
	}
	if exp < MinTokenExpiration || exp > MaxTokenExpiration {
		return 0, fmt.Errorf("%w: token expiration %d not valid. Expected value to be between %d and %d", ErrInvalidExpiration, exp, MinTokenExpiration, MaxTokenExpiration)
	}
	return exp, nil
}

// skipContainers parses the skip-containers annotation.
func skipContainers(pod *corev1.Pod) map[string]bool {
	raw := pod.Annotations[SkipContainersAnnotation]
	if raw == "" {
		return nil
	}
	out := map[string]bool{}
	for _, n := range strings.Split(raw, ";") {
		out[strings.TrimSpace(n)] = true
	}
	return out
}

// MutatePod returns the JSON Patch operations that give pod the workload
// identity of sa, and the mutated pod. It does not look at the use label
// (Mutate does) and never changes its arguments.
func MutatePod(pod *corev1.Pod, sa *corev1.ServiceAccount, opts Options) ([]PatchOp, *corev1.Pod, error) {
	exp, err := tokenExpiration(pod, sa)
	if err != nil {
		return nil, nil, err
	}
	id := identityFor(sa, opts)
	skip := skipContainers(pod)
	out := pod.DeepCopy()
	var ops []PatchOp
	ops = append(ops, mutateContainers("/spec/initContainers", out.Spec.InitContainers, id, skip)...)
	ops = append(ops, mutateContainers("/spec/containers", out.Spec.Containers, id, skip)...)
	if op, ok := addVolume(out, exp); ok {
		ops = append(ops, op)
	}
	return ops, out, nil
}

// mutateContainers adds env and mount to each container not skipped,
// editing cs in place and returning the operations that do the same.
func mutateContainers(base string, cs []corev1.Container, id identity, skip map[string]bool) []PatchOp {
	var ops []PatchOp
	for i := range cs {
		c := &cs[i]
		if skip[c.Name] {
			continue
		}
		at := fmt.Sprintf("%s/%d", base, i)
		have := map[string]bool{}
		for _, e := range c.Env {
			have[e.Name] = true
		}
		for _, e := range []corev1.EnvVar{
			{Name: ClientIDEnv, Value: id.ClientID},
			{Name: TenantIDEnv, Value: id.TenantID},
			{Name: FederatedTokenFileEnv, Value: TokenFile},
			{Name: AuthorityHostEnv, Value: id.AuthorityHost},
		} {
			if have[e.Name] || e.Value == "" {
				continue
			}
			ops = append(ops, appendOp(at+"/env", len(c.Env) == 0, e))
			c.Env = append(c.Env, e)
		}
		mounted := false
		for _, m := range c.VolumeMounts {
			if m.Name == TokenVolumeName {
				mounted = true
				break
			}
		}
		if !mounted {
			m := corev1.VolumeMount{Name: TokenVolumeName, MountPath: TokenMountPath, ReadOnly: true}
			ops = append(ops, appendOp(at+"/volumeMounts", len(c.VolumeMounts) == 0, m))
			c.VolumeMounts = append(c.VolumeMounts, m)
		}
	}
	return ops
}

// appendOp appends v to the list at path, creating the list when empty.
func appendOp(path string, empty bool, v any) PatchOp {
	if empty {
		return PatchOp{Op: "add", Path: path, Value: []any{v}}
	}
	return PatchOp{Op: "add", Path: path + "/-", Value: v}
}

// addVolume adds the projected token volume unless a projected volume
// already holds a service-account token at its path (a reinvocation, or a
// pod that brings its own).
func addVolume(pod *corev1.Pod, exp int64) (PatchOp, bool) {
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil && s.ServiceAccountToken.Path == TokenPath {
				return PatchOp{}, false
			}
		}
	}
	vol := corev1.Volume{Name: TokenVolumeName, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
			Audience: Audience, ExpirationSeconds: &exp, Path: TokenPath,
		}}},
	}}}
	op := appendOp("/spec/volumes", len(pod.Spec.Volumes) == 0, vol)
	pod.Spec.Volumes = append(pod.Spec.Volumes, vol)
	return op, true
}
