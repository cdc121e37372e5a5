package azurewebhook

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/idlab/idlab/internal/patchdiff"
)

// Sentinels for the refusals callers branch on. The errors wrapping them
// read exactly as upstream's messages.
var (
	// ErrInvalidExpiration: a token expiration annotation is not an
	// integer in MinTokenExpiration..MaxTokenExpiration.
	ErrInvalidExpiration = errors.New("invalid service account token expiration")
	// ErrProxyOnHostNetwork: the proxy sidecar was asked for in a
	// hostNetwork pod, whose network it would rewrite for the whole node.
	ErrProxyOnHostNetwork = errors.New("proxy sidecar on host network")
	// ErrInvalidProxyPort: the proxy-sidecar-port annotation is not a
	// 32-bit integer.
	ErrInvalidProxyPort = errors.New("invalid proxy sidecar port")
)

// refusal is an error with upstream's text that still matches its sentinel.
type refusal struct {
	sentinel error
	msg      string
}

func (e *refusal) Error() string        { return e.msg }
func (e *refusal) Is(target error) bool { return target == e.sentinel }

// PatchOp is one RFC 6902 JSON Patch operation of a mutation.
type PatchOp = patchdiff.Op

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
	return id
}

// tokenExpiration is the pod's annotation, else the ServiceAccount's, else
// the default, and must lie in 3600..86400. A value that is not an integer
// fails with strconv's own message, as upstream.
func tokenExpiration(pod *corev1.Pod, sa *corev1.ServiceAccount) (int64, error) {
	exp := DefaultTokenExpiration
	raw := pod.Annotations[TokenExpirationAnnotation]
	if raw == "" {
		raw = sa.Annotations[TokenExpirationAnnotation]
	}
	if raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return 0, &refusal{ErrInvalidExpiration, err.Error()}
		}
		exp = n
	}
	if exp < MinTokenExpiration || exp > MaxTokenExpiration {
		return 0, &refusal{ErrInvalidExpiration, fmt.Sprintf("token expiration %d not valid. Expected value to be between %d and %d", exp, MinTokenExpiration, MaxTokenExpiration)}
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

// podName names the pod as upstream's log and volume name do: its name, or
// its generateName and " (prefix)" before the API server named it.
func podName(pod *corev1.Pod) string {
	if pod.Name != "" {
		return pod.Name
	}
	return pod.GenerateName + " (prefix)"
}

// MutatePod returns the JSON Patch operations that give pod the workload
// identity of sa, and the mutated pod, as upstream's handler mutates a pod
// once it has its ServiceAccount: the proxy sidecar when asked for, then
// each container not skipped, then the token volume. It never looks at the
// use label (the webhook configuration's objectSelector does) and never
// changes its arguments. The refusals wrap ErrProxyOnHostNetwork,
// ErrInvalidProxyPort and ErrInvalidExpiration.
func MutatePod(pod *corev1.Pod, sa *corev1.ServiceAccount, opts Options) ([]PatchOp, *corev1.Pod, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	out := pod.DeepCopy()
	if wantsProxy(out) {
		if err := injectProxy(out, opts); err != nil {
			return nil, nil, err
		}
	}
	exp, err := tokenExpiration(out, sa)
	if err != nil {
		return nil, nil, err
	}
	id := identityFor(sa, opts)
	skip := skipContainers(out)
	volume := opts.Release.VolumeName(podName(out))
	mutateContainers(out.Spec.InitContainers, id, skip, volume, opts.Release)
	mutateContainers(out.Spec.Containers, id, skip, volume, opts.Release)
	addVolume(out, volume, exp, opts)
	ops, err := patchdiff.Values("/spec", pod.Spec, out.Spec)
	if err != nil {
		return nil, nil, err
	}
	return ops, out, nil
}

// mutateContainers gives each container of cs not skipped the variables
// and the mount, in place.
func mutateContainers(cs []corev1.Container, id identity, skip map[string]bool, volume string, r Release) {
	for i := range cs {
		if skip[cs[i].Name] {
			continue
		}
		addEnv(&cs[i], id, r.TokenFile())
		addMount(&cs[i], volume, r)
	}
}

// addEnv appends the four variables in upstream's order, each only when
// the container has no variable of that name, whatever its value or
// source, and the value is not empty.
func addEnv(c *corev1.Container, id identity, tokenFile string) {
	have := map[string]bool{}
	for _, e := range c.Env {
		have[e.Name] = true
	}
	for _, e := range []corev1.EnvVar{
		{Name: ClientIDEnv, Value: id.ClientID},
		{Name: TenantIDEnv, Value: id.TenantID},
		{Name: FederatedTokenFileEnv, Value: tokenFile},
		{Name: AuthorityHostEnv, Value: id.AuthorityHost},
	} {
		if !have[e.Name] && e.Value != "" {
			c.Env = append(c.Env, e)
		}
	}
}

// addMount mounts the token volume read-only at the release's path: v1.6.0
// replaces a mount of the volume's name, v1.5.1 keeps it as it is.
func addMount(c *corev1.Container, volume string, r Release) {
	m := corev1.VolumeMount{Name: volume, MountPath: r.MountPath(), ReadOnly: true}
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == volume {
			if r == Release160 {
				c.VolumeMounts[i] = m
			}
			return
		}
	}
	c.VolumeMounts = append(c.VolumeMounts, m)
}

// addVolume adds the projected token volume. v1.6.0 replaces a volume of
// its name; v1.5.1 adds nothing when a projected volume already holds a
// service-account token at its path, and otherwise appends, even beside a
// volume of the same name.
func addVolume(pod *corev1.Pod, name string, exp int64, opts Options) {
	vol := corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
			Audience: opts.Audience, ExpirationSeconds: &exp, Path: opts.Release.TokenPath(),
		}}},
	}}}
	for i, v := range pod.Spec.Volumes {
		if opts.Release == Release160 && v.Name == name {
			pod.Spec.Volumes[i] = vol
			return
		}
		if opts.Release == Release151 && v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil && s.ServiceAccountToken.Path == TokenPath151 {
					return
				}
			}
		}
	}
	pod.Spec.Volumes = append(pod.Spec.Volumes, vol)
}
