package podidentity

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/idlab/idlab/components/irsawebhook"
)

// credentialVars are the variables by which a pod identity webhook points
// the SDK at credentials: EKS Pod Identity's pair, then IRSA's.
var credentialVars = []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"}

// credentialEnv says which credential variables a container has, for a
// matrix row: "AWS_X=v, ..." in credentialVars' order, or "no AWS
// credential variables".
func credentialEnv(env []corev1.EnvVar) string {
	have := map[string]string{}
	for _, e := range env {
		have[e.Name] = e.Value
	}
	var out []string
	for _, v := range credentialVars {
		if val, ok := have[v]; ok {
			out = append(out, v+"="+val)
		}
	}
	if len(out) == 0 {
		return "no AWS credential variables"
	}
	return strings.Join(out, ", ")
}

func TestCredentialEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []corev1.EnvVar
		want string
	}{
		{"none", []corev1.EnvVar{{Name: "AWS_CA_BUNDLE", Value: "/etc/idlab/ca.pem"}, {Name: "AWS_REGION", Value: "us-west-2"}}, "no AWS credential variables"},
		{"nil", nil, "no AWS credential variables"},
		{"IRSA", []corev1.EnvVar{{Name: "AWS_WEB_IDENTITY_TOKEN_FILE", Value: "/t"}, {Name: "AWS_ROLE_ARN", Value: "arn:r"}},
			"AWS_ROLE_ARN=arn:r, AWS_WEB_IDENTITY_TOKEN_FILE=/t"},
		{"EKS Pod Identity", []corev1.EnvVar{{Name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", Value: "/p"}, {Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: "http://169.254.170.23/v1/credentials"}},
			"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/v1/credentials, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/p"},
		{"empty value", []corev1.EnvVar{{Name: "AWS_ROLE_ARN"}}, "AWS_ROLE_ARN="},
	} {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.want, credentialEnv(tc.env)) })
	}
}

// firstAdmission is namespace/pod's earliest admission line in webhook logs
// by pod, with its time; ok is false when no webhook pod logged one.
func firstAdmission(logs map[string][]byte, namespace, pod string) (a irsawebhook.AdmissionLog, at time.Time, ok bool) {
	for _, raw := range logs {
		for _, l := range irsawebhook.ParseLog(raw) {
			if x := l.Admission; x != nil && x.Namespace == namespace && x.Pod == pod && (!ok || l.Time.Before(at)) {
				a, at, ok = *x, l.Time, true
			}
		}
	}
	return a, at, ok
}

func TestFirstAdmission(t *testing.T) {
	logs := map[string][]byte{
		"w-0": []byte(`{"time":"2026-12-07T02:00:03Z","msg":"admission","namespace":"n","pod":"p","request_id":"late","mutated":false}
{"time":"2026-12-07T02:00:01Z","msg":"admission","namespace":"n","pod":"q","request_id":"other-pod"}
{"time":"2026-12-07T02:00:00Z","msg":"admission","namespace":"m","pod":"p","request_id":"other-namespace"}
`),
		"w-1": []byte(`{"time":"2026-12-07T02:00:02Z","msg":"admission","namespace":"n","pod":"p","request_id":"first","mutated":true,"reason":"sts_web_identity"}
not json
`),
	}
	a, at, ok := firstAdmission(logs, "n", "p")
	require.True(t, ok)
	require.Equal(t, irsawebhook.AdmissionLog{Msg: "admission", Namespace: "n", Pod: "p", RequestID: "first", Mutated: true, Reason: "sts_web_identity"}, a)
	require.Equal(t, time.Date(2026, 12, 7, 2, 0, 2, 0, time.UTC), at)
	_, _, ok = firstAdmission(logs, "n", "none")
	require.False(t, ok)
	_, _, ok = firstAdmission(nil, "n", "p")
	require.False(t, ok)
}
