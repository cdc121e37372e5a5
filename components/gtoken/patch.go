package gtoken

import (
	"crypto/sha256"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/idlab/idlab/internal/patchdiff"
)

// Names and paths the webhook injects, upstream's defaults (the server
// command's flags in cmd/gtoken-webhook/main.go at 0.4.3).
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
type PatchOperation = patchdiff.Op

// sessionFunc names the session of the i-th container of a pod's list
// ("initContainers" or "containers").
type sessionFunc func(pod *corev1.Pod, list string, i int) string

// MutatePod returns the JSON Patch that lets pod's containers assume roleARN
// with a Google ID token, without changing pod, as upstream mutates a pod
// whose ServiceAccount carries the role annotation (whatever its value,
// empty included): nil only when the pod has no container at all.
func MutatePod(pod *corev1.Pod, roleARN string, opts Options) ([]PatchOperation, error) {
	if pod == nil {
		return nil, nil
	}
	out, ok := mutatePod(pod, roleARN, opts.withDefaults(), SessionName)
	if !ok {
		return nil, nil
	}
	return patchdiff.Values("/spec", pod.Spec, out.Spec)
}

// mutatePod is upstream's mutatePod on a copy of pod: every container and
// init container gets the token mount and the three variables appended
// (beside any of the same name: the last one wins in the container), then,
// when there was a container to mutate, the gtoken init container goes
// first, the refreshing sidecar last and the in-memory volume at the end.
func mutatePod(pod *corev1.Pod, roleARN string, opts Options, session sessionFunc) (*corev1.Pod, bool) {
	out := pod.DeepCopy()
	inits := mutateContainers(out.Spec.InitContainers, roleARN, opts, func(i int) string { return session(pod, "initContainers", i) })
	containers := mutateContainers(out.Spec.Containers, roleARN, opts, func(i int) string { return session(pod, "containers", i) })
	if !inits && !containers {
		return out, false
	}
	out.Spec.InitContainers = append([]corev1.Container{gtokenContainer(InitContainerName, opts, false)}, out.Spec.InitContainers...)
	out.Spec.Containers = append(out.Spec.Containers, gtokenContainer(SidecarContainerName, opts, true))
	out.Spec.Volumes = append(out.Spec.Volumes, corev1.Volume{
		Name:         opts.VolumeName,
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}},
	})
	return out, true
}

// mutateContainers appends the mount and the variables to each container
// of cs, in place, and reports whether there was any.
func mutateContainers(cs []corev1.Container, roleARN string, opts Options, session func(i int) string) bool {
	for i := range cs {
		cs[i].VolumeMounts = append(cs[i].VolumeMounts, corev1.VolumeMount{Name: opts.VolumeName, MountPath: opts.VolumePath})
		cs[i].Env = append(cs[i].Env,
			corev1.EnvVar{Name: EnvWebIdentityTokenFile, Value: opts.tokenFile()},
			corev1.EnvVar{Name: EnvRoleARN, Value: roleARN},
			corev1.EnvVar{Name: EnvRoleSessionName, Value: session(i)},
		)
	}
	return len(cs) > 0
}

// SessionName is AWS_ROLE_SESSION_NAME for the i-th container of the
// pod's list ("initContainers" or "containers"): the prefix and 16 letters
// a-y, upstream's shape, which upstream draws at random for each container.
// Here they are derived from the pod's namespace and name (generateName
// when it has none), the list and the index, so patches are reproducible
// and each container still has its own.
func SessionName(pod *corev1.Pod, list string, i int) string {
	name := pod.Name
	if name == "" {
		name = pod.GenerateName
	}
	sum := sha256.Sum256([]byte(strconv.Quote(pod.Namespace) + "/" + strconv.Quote(name) + "/" + list + "/" + strconv.Itoa(i)))
	b := make([]byte, 16)
	for k := range b {
		b[k] = 'a' + sum[k]%25
	}
	return SessionNamePrefix + string(b)
}

func gtokenContainer(name string, opts Options, refresh bool) corev1.Container {
	return corev1.Container{
		Name:            name,
		Image:           opts.Image,
		ImagePullPolicy: opts.PullPolicy,
		Command:         []string{"/gtoken", "--file=" + opts.tokenFile(), "--refresh=" + strconv.FormatBool(refresh)},
		VolumeMounts:    []corev1.VolumeMount{{Name: opts.VolumeName, MountPath: opts.VolumePath}},
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
