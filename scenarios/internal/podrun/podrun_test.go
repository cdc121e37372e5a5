package podrun

import (
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

func TestIRSAPod(t *testing.T) {
	p := IRSAPod("p", "app-a", "idlab/probe:x", "arn:aws:iam::1:role/r", "us-west-2")
	require.Equal(t, "sts.amazonaws.com", p.Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken.Audience)
	require.Equal(t, corev1.PullNever, p.Spec.Containers[0].ImagePullPolicy)
	env := map[string]string{}
	for _, e := range p.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	require.Equal(t, "/var/run/secrets/eks.amazonaws.com/serviceaccount/token", env["AWS_WEB_IDENTITY_TOKEN_FILE"])
	require.Equal(t, "arn:aws:iam::1:role/r", env["AWS_ROLE_ARN"])
	require.Equal(t, "/etc/idlab/ca.pem", env["AWS_CA_BUNDLE"])
}

func TestWithAudienceAndArgs(t *testing.T) {
	p := WithArgs(WithAudience(IRSAPod("p", "app-a", "idlab/probe:x", "arn:aws:iam::1:role/r", "us-west-2"), "sts.amazonaws.co"), "s3-get", "b", "k")
	require.Equal(t, "sts.amazonaws.co", p.Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken.Audience)
	require.Equal(t, []string{"s3-get", "b", "k"}, p.Spec.Containers[0].Args)
}
