package gtoken

import (
	"crypto/sha256"
	"path"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Names and paths the webhook injects, upstream's defaults.
const (
	// AnnotationRoleARN on a ServiceAccount names the AWS role its pods assume.
	AnnotationRoleARN = "amazonaws.com/role-arn"
	// DefaultImage is the gtoken image when Options.Image is empty.
	DefaultImage = "doitintl/gtoken:latest"

	VolumeName    = "gtoken-volume"
	MountPath     = "/var/run/secrets/aws/token"
	TokenFileName = "gtoken"
	// TokenFile is where the Google ID token is written.
	TokenFile = MountPath + "/" + TokenFileName

	InitContainerName    = "generate-gcp-id-token"
	SidecarContainerName = "update-gcp-id-token"
	// SessionNamePrefix starts AWS_ROLE_SESSION_NAME.
	SessionNamePrefix = "gtoken-webhook-"
)

// Environment variables the webhook injects.
const (
	EnvWebIdentityTokenFile = "AWS_WEB_IDENTITY_TOKEN_FILE"
	EnvRoleARN              = "AWS_ROLE_ARN"
	EnvRoleSessionName      = "AWS_ROLE_SESSION_NAME"
)

// Resources of the gtoken containers, as upstream's.
const (
	requestsCPU    = "5m"
	requestsMemory = "10Mi"
	limitsCPU      = "20m"
	limitsMemory   = "50Mi"
)

// PatchOperation is one RFC 6902 JSON Patch operation.
type PatchOperation struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// MutatePod returns the JSON Patch that lets pod's containers assume roleARN
// with a Google ID token, without changing pod. It returns nil when roleARN is
// empty or the pod already has the token volume or a gtoken container (a
// reinvocation, or a name clash the webhook must not touch).
func MutatePod(pod *corev1.Pod, roleARN string, opts Options) []PatchOperation {
	if pod == nil || roleARN == "" {
		return nil
	}
	if slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == VolumeName }) {
		return nil
	}
	gtokenName := func(c corev1.Container) bool {
		return c.Name == InitContainerName || c.Name == SidecarContainerName
	}
	if slices.ContainsFunc(pod.Spec.Containers, gtokenName) || slices.ContainsFunc(pod.Spec.InitContainers, gtokenName) {
		return nil
	}
	image := opts.Image
	if image == "" {
		image = DefaultImage
	}
	env := []corev1.EnvVar{
		{Name: EnvWebIdentityTokenFile, Value: TokenFile},
		{Name: EnvRoleARN, Value: roleARN},
		{Name: EnvRoleSessionName, Value: SessionName(pod)},
	}

	inits := append([]corev1.Container{gtokenContainer(InitContainerName, image, false)},
		mutateContainers(pod.Spec.InitContainers, env)...)
	containers := append(mutateContainers(pod.Spec.Containers, env),
		gtokenContainer(SidecarContainerName, image, true))

	var ops []PatchOperation
	// "add" of the whole list also replaces an empty one, present or not.
	if len(pod.Spec.Volumes) == 0 {
		ops = append(ops, PatchOperation{Op: "add", Path: "/spec/volumes", Value: []corev1.Volume{tokenVolume()}})
	} else {
		ops = append(ops, PatchOperation{Op: "add", Path: "/spec/volumes/-", Value: tokenVolume()})
	}
	ops = append(ops,
		PatchOperation{Op: "add", Path: "/spec/initContainers", Value: inits},
		PatchOperation{Op: "add", Path: "/spec/containers", Value: containers},
	)
	return ops
}

// SessionName is the AWS_ROLE_SESSION_NAME for pod: the prefix and 16
// letters a-z (upstream's shape), derived from the pod's namespace and name
// (generateName when it has none) instead of drawn at random.
func SessionName(pod *corev1.Pod) string {
	name := pod.Name
	if name == "" {
		name = pod.GenerateName
	}
	sum := sha256.Sum256([]byte(strconv.Quote(pod.Namespace) + "/" + strconv.Quote(name)))
	b := make([]byte, 16)
	for i := range b {
		b[i] = 'a' + sum[i]%26
	}
	return SessionNamePrefix + string(b)
}

func tokenVolume() corev1.Volume {
	return corev1.Volume{
		Name:         VolumeName,
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}},
	}
}

func gtokenContainer(name, image string, refresh bool) corev1.Container {
	return corev1.Container{
		Name:            name,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{"/gtoken", "--file=" + TokenFile, "--refresh=" + strconv.FormatBool(refresh)},
		VolumeMounts:    []corev1.VolumeMount{{Name: VolumeName, MountPath: MountPath}},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse(requestsCPU),
				corev1.ResourceMemory: resource.MustParse(requestsMemory),
			},
			Limits: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse(limitsCPU),
				corev1.ResourceMemory: resource.MustParse(limitsMemory),
			},
		},
	}
}

// mutateContainers returns copies of cs with the token mount and env. The
// input is never modified.
func mutateContainers(cs []corev1.Container, env []corev1.EnvVar) []corev1.Container {
	out := make([]corev1.Container, 0, len(cs)+1)
	for _, c := range cs {
		out = append(out, mutateContainer(c, env))
	}
	return out
}

// mutateContainer adds each variable of env the container does not set
// already (never overriding one) and mounts the token volume unless something
// is mounted at its path.
func mutateContainer(c corev1.Container, env []corev1.EnvVar) corev1.Container {
	newEnv := slices.Clone(c.Env)
	for _, v := range env {
		if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == v.Name }) {
			newEnv = append(newEnv, v)
		}
	}
	c.Env = newEnv
	mounted := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.Name == VolumeName || path.Clean(m.MountPath) == MountPath
	})
	if !mounted {
		c.VolumeMounts = append(slices.Clone(c.VolumeMounts), corev1.VolumeMount{Name: VolumeName, MountPath: MountPath})
	}
	return c
}
