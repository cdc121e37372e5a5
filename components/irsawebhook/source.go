package irsawebhook

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// credentialSource turns a pod and its ServiceAccount into a PatchConfig, or
// nil when it has nothing to give the pod. The Handler asks its sources in
// order and mutates with the first answer, as upstream consults EKS Pod
// Identity associations before IRSA annotations.
type credentialSource interface {
	name() string
	patchConfig(ctx context.Context, pod *corev1.Pod, namespace, serviceAccount string) (*PatchConfig, error)
}

// irsaSource is the IRSA source: the ServiceAccount's role-arn annotation.
type irsaSource struct {
	cache  *saCache
	region string
}

func (irsaSource) name() string { return "sts_web_identity" }

func (s irsaSource) patchConfig(ctx context.Context, pod *corev1.Pod, namespace, serviceAccount string) (*PatchConfig, error) {
	sa, found, err := s.cache.lookup(ctx, namespace, serviceAccount)
	if err != nil || !found || sa.RoleARN == "" {
		return nil, err
	}
	pa := parsePodAnnotations(pod)
	exp := sa.TokenExpiration
	if pa.TokenExpiration != nil {
		exp = *pa.TokenExpiration
	}
	return &PatchConfig{
		VolumeName:        VolumeName,
		MountPath:         MountPath,
		TokenPath:         TokenPath,
		Audience:          sa.Audience,
		ExpirationSeconds: exp,
		RegionalSTS:       sa.RegionalSTS,
		Region:            s.region,
		SkipContainers:    pa.SkipContainers,
		WebIdentity:       &WebIdentity{RoleARN: sa.RoleARN},
	}, nil
}
