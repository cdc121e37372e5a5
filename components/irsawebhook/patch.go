package irsawebhook

import (
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Names and paths the webhook injects, upstream's defaults.
const (
	VolumeName = "aws-iam-token"
	MountPath  = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
	TokenPath  = "token"
)

// Environment variables the webhook injects.
const (
	EnvRoleARN              = "AWS_ROLE_ARN"
	EnvWebIdentityTokenFile = "AWS_WEB_IDENTITY_TOKEN_FILE"
	EnvRegion               = "AWS_REGION"
	EnvDefaultRegion        = "AWS_DEFAULT_REGION"
	EnvSTSRegionalEndpoints = "AWS_STS_REGIONAL_ENDPOINTS"
)

// PatchOperation is one RFC 6902 JSON Patch operation.
type PatchOperation struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// PatchConfig is everything one pod mutation needs, resolved from the
// webhook's options, the ServiceAccount and the pod's annotations (upstream's
// podPatchConfig). A credential source fills exactly one of its credential
// fields.
type PatchConfig struct {
	VolumeName        string
	MountPath         string
	TokenPath         string
	Audience          string
	ExpirationSeconds int64
	RegionalSTS       bool
	// Region is injected as AWS_DEFAULT_REGION and AWS_REGION when set.
	Region string
	// SkipContainers names containers and init containers left alone.
	SkipContainers map[string]bool
	// WebIdentity is the IRSA credential: AWS_ROLE_ARN and
	// AWS_WEB_IDENTITY_TOKEN_FILE.
	WebIdentity *WebIdentity
	// ContainerCredentials is the EKS Pod Identity credential:
	// AWS_CONTAINER_CREDENTIALS_FULL_URI and
	// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, and the pod-identity label.
	ContainerCredentials *ContainerCredentials
}

// ContainerCredentials is where the pod's SDK fetches credentials with its
// token: the EKS Pod Identity Agent on the node.
type ContainerCredentials struct {
	FullURI string
}

// WebIdentity is the role the pod assumes with its token.
type WebIdentity struct {
	RoleARN string
}

// credentialEnv returns the credential variables for a container, in
// upstream's order; upstream skips the whole group when any one is set.
func (c PatchConfig) credentialEnv(tokenFile string) []corev1.EnvVar {
	if c.ContainerCredentials != nil {
		return []corev1.EnvVar{
			{Name: EnvContainerCredentialsFullURI, Value: c.ContainerCredentials.FullURI},
			{Name: EnvContainerAuthorizationTokenFile, Value: tokenFile},
		}
	}
	if c.WebIdentity == nil {
		return nil
	}
	return []corev1.EnvVar{
		{Name: EnvRoleARN, Value: c.WebIdentity.RoleARN},
		{Name: EnvWebIdentityTokenFile, Value: tokenFile},
	}
}

// MutatePod returns the JSON Patch that gives pod the credentials cfg
// describes, without changing pod. Like upstream's getPodSpecPatch it always
// rewrites the containers, so the patch is never empty; PodPatch also says
// whether it changes anything.
func MutatePod(pod *corev1.Pod, cfg PatchConfig) []PatchOperation {
	ops, _ := PodPatch(pod, cfg)
	return ops
}

// PodPatch is MutatePod that also reports whether the patch changes the pod
// (upstream's "changed"): false when the pod already had the volume and
// every container not skipped already had its variables and mount, as a
// reinvocation finds it. A pod that already has a volume of the token's
// name, whatever it holds, keeps it and its containers are still given the
// variables and a mount of that volume, as upstream's getPodSpecPatch does.
func PodPatch(pod *corev1.Pod, cfg PatchConfig) ([]PatchOperation, bool) {
	tokenFile := path.Join(cfg.MountPath, cfg.TokenPath)
	if isWindows(pod) {
		// /var/run/.../token -> C:\var\run\...\token, as upstream.
		tokenFile = "C:" + strings.ReplaceAll(tokenFile, "/", `\`)
	}

	initContainers, initChanged := mutateContainers(pod.Spec.InitContainers, cfg, tokenFile)
	containers, changed := mutateContainers(pod.Spec.Containers, cfg, tokenFile)
	changed = changed || initChanged

	var ops []PatchOperation
	if cfg.ContainerCredentials != nil {
		// Upstream labels container-credentials pods first.
		if pod.Labels == nil {
			ops = append(ops, PatchOperation{Op: "add", Path: "/metadata/labels", Value: map[string]string{LabelPodIdentity: "enabled"}})
		} else {
			ops = append(ops, PatchOperation{Op: "add", Path: "/metadata/labels/" + strings.ReplaceAll(LabelPodIdentity, "/", "~1"), Value: "enabled"})
		}
		changed = true
	}
	volExists := slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == cfg.VolumeName })
	if !volExists {
		vol := tokenVolume(cfg)
		if pod.Spec.Volumes == nil {
			ops = append(ops, PatchOperation{Op: "add", Path: "/spec/volumes", Value: []corev1.Volume{vol}})
		} else {
			ops = append(ops, PatchOperation{Op: "add", Path: "/spec/volumes/0", Value: vol})
		}
		changed = true
	}
	ops = append(ops, PatchOperation{Op: "add", Path: "/spec/containers", Value: containers})
	if len(initContainers) > 0 {
		ops = append(ops, PatchOperation{Op: "add", Path: "/spec/initContainers", Value: initContainers})
	}
	return ops, changed
}

// isWindows reports whether the pod's nodeSelector targets Windows nodes, the
// only signal upstream honours (nodeAffinity is not).
func isWindows(pod *corev1.Pod) bool {
	return pod.Spec.NodeSelector["kubernetes.io/os"] == "windows" ||
		pod.Spec.NodeSelector["beta.kubernetes.io/os"] == "windows"
}

func tokenVolume(cfg PatchConfig) corev1.Volume {
	exp := cfg.ExpirationSeconds
	return corev1.Volume{
		Name: cfg.VolumeName,
		VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Audience:          cfg.Audience,
				ExpirationSeconds: &exp,
				Path:              cfg.TokenPath,
			}}},
		}},
	}
}

// mutateContainers returns copies of cs, each not skipped given the
// environment and mount, and whether any changed. The input is never
// modified.
func mutateContainers(cs []corev1.Container, cfg PatchConfig, tokenFile string) ([]corev1.Container, bool) {
	out := make([]corev1.Container, 0, len(cs))
	changed := false
	for _, c := range cs {
		if !cfg.SkipContainers[c.Name] {
			var ch bool
			c, ch = mutateContainer(c, cfg, tokenFile)
			changed = changed || ch
		}
		out = append(out, c)
	}
	return out, changed
}

// mutateContainer applies upstream's addEnvToContainer rule to a copy of c
// and reports whether it added anything.
func mutateContainer(c corev1.Container, cfg PatchConfig, tokenFile string) (corev1.Container, bool) {
	cred := cfg.credentialEnv(tokenFile)
	var credDefined, regionDefined, stsDefined bool
	for _, e := range c.Env {
		if slices.ContainsFunc(cred, func(v corev1.EnvVar) bool { return v.Name == e.Name }) {
			credDefined = true
		}
		if e.Name == EnvRegion || e.Name == EnvDefaultRegion {
			regionDefined = true
		}
		if e.Name == EnvSTSRegionalEndpoints {
			stsDefined = true
		}
	}
	if credDefined && regionDefined && stsDefined {
		// Upstream leaves such a container alone, mount included.
		return c, false
	}

	env := slices.Clone(c.Env)
	if !stsDefined && cfg.RegionalSTS {
		env = append(env, corev1.EnvVar{Name: EnvSTSRegionalEndpoints, Value: "regional"})
	}
	if !regionDefined && cfg.Region != "" {
		env = append(env,
			corev1.EnvVar{Name: EnvDefaultRegion, Value: cfg.Region},
			corev1.EnvVar{Name: EnvRegion, Value: cfg.Region})
	}
	if !credDefined {
		env = append(env, cred...)
	}
	changed := len(env) != len(c.Env)
	c.Env = env

	mounted := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.Name == cfg.VolumeName || path.Clean(m.MountPath) == path.Clean(cfg.MountPath)
	})
	if !mounted {
		c.VolumeMounts = append(slices.Clone(c.VolumeMounts), corev1.VolumeMount{
			Name:      cfg.VolumeName,
			ReadOnly:  true,
			MountPath: cfg.MountPath,
		})
		changed = true
	}
	return c, changed
}
