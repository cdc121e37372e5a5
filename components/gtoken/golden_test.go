package gtoken

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/idlab/idlab/internal/golden"
)

// TestGolden runs every testdata/NAME.yaml (ServiceAccounts and a pod)
// through Mutate and compares the JSON Patch with testdata/NAME.patch.json
// ("null" for no patch); then applies the patch and checks the pod.
func TestGolden(t *testing.T) {
	for _, path := range fixtures(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			f := loadFixture(t, path)
			h, _ := newTestHandler(t, Options{Image: "gtoken:test"}, f.sas...)
			req := podRequest(t, "uid-"+name, f.ns, f.pod)
			req.Object.Raw = f.raw
			resp := h.Mutate(t.Context(), req)
			require.True(t, resp.Allowed)
			require.Nil(t, resp.Result)
			require.Equal(t, req.UID, resp.UID)

			got := []byte("null\n")
			if resp.Patch != nil {
				require.Equal(t, admissionv1.PatchTypeJSONPatch, *resp.PatchType)
				var buf bytes.Buffer
				require.NoError(t, json.Indent(&buf, resp.Patch, "", "  "))
				buf.WriteByte('\n')
				got = buf.Bytes()
			} else {
				require.Nil(t, resp.PatchType)
			}
			golden.File(t, filepath.Join("testdata", name+".patch.json"), got)

			if resp.Patch != nil {
				checkPatchedPod(t, h, f, resp.Patch)
			}
		})
	}
}

// checkPatchedPod applies patch to the fixture's pod and checks the result
// as upstream mutates: the in-memory token volume appended, the gtoken init
// container first and sidecar last, every original container with the
// token mount appended and the three variables appended after its own (so
// the ServiceAccount's win where names repeat), a session name of
// upstream's shape per container, and a second invocation mutating again.
func checkPatchedPod(t *testing.T, h *Handler, f fixture, patch []byte) {
	t.Helper()
	p, err := jsonpatch.DecodePatch(patch)
	require.NoError(t, err)
	out, err := p.Apply(f.raw)
	require.NoError(t, err)
	var pod corev1.Pod
	require.NoError(t, json.Unmarshal(out, &pod))

	require.Equal(t, append(slices.Clone(f.pod.Spec.Volumes), corev1.Volume{Name: VolumeName,
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}), pod.Spec.Volumes)
	require.Len(t, pod.Spec.InitContainers, len(f.pod.Spec.InitContainers)+1)
	require.Len(t, pod.Spec.Containers, len(f.pod.Spec.Containers)+1)
	init, side := pod.Spec.InitContainers[0], pod.Spec.Containers[len(pod.Spec.Containers)-1]
	require.Equal(t, InitContainerName, init.Name)
	require.Equal(t, SidecarContainerName, side.Name)
	for c, refresh := range map[*corev1.Container]string{&init: "false", &side: "true"} {
		require.Equal(t, "gtoken:test", c.Image)
		require.Equal(t, corev1.PullIfNotPresent, c.ImagePullPolicy)
		require.Equal(t, []string{"/gtoken", "--file=/var/run/secrets/aws/token/gtoken", "--refresh=" + refresh}, c.Command)
		require.Equal(t, []corev1.VolumeMount{{Name: VolumeName, MountPath: MountPath}}, c.VolumeMounts)
		require.Empty(t, c.Env)
	}

	before := slices.Concat(f.pod.Spec.InitContainers, f.pod.Spec.Containers)
	after := slices.Concat(pod.Spec.InitContainers[1:], pod.Spec.Containers[:len(pod.Spec.Containers)-1])
	require.Len(t, after, len(before))
	sessions := map[string]bool{}
	for i, c := range after {
		b := before[i]
		require.Equal(t, b.Name, c.Name)
		require.Equal(t, append(slices.Clone(b.VolumeMounts), corev1.VolumeMount{Name: VolumeName, MountPath: MountPath}), c.VolumeMounts)
		require.Len(t, c.Env, len(b.Env)+3)
		for k, e := range b.Env {
			require.Equal(t, e, c.Env[k], "%s: its own variables kept in place", c.Name)
		}
		added := c.Env[len(b.Env):]
		require.Equal(t, corev1.EnvVar{Name: EnvWebIdentityTokenFile, Value: "/var/run/secrets/aws/token/gtoken"}, added[0])
		require.Equal(t, corev1.EnvVar{Name: EnvRoleARN, Value: saOf(f).Annotations[AnnotationRoleARN]}, added[1])
		require.Equal(t, EnvRoleSessionName, added[2].Name)
		require.Regexp(t, `^gtoken-webhook-[a-y]{16}$`, added[2].Value)
		require.False(t, sessions[added[2].Value], "each container its own session name")
		sessions[added[2].Value] = true
	}

	// A second pass mutates again, as upstream: a second gtoken init
	// container and sidecar, which the API server refuses (duplicate names).
	req := podRequest(t, "again", f.ns, &pod)
	req.Object.Raw = out
	resp := h.Mutate(t.Context(), req)
	require.True(t, resp.Allowed)
	require.NotNil(t, resp.Patch)
	p, err = jsonpatch.DecodePatch(resp.Patch)
	require.NoError(t, err)
	twice, err := p.Apply(out)
	require.NoError(t, err)
	var again corev1.Pod
	require.NoError(t, json.Unmarshal(twice, &again))
	require.Equal(t, InitContainerName, again.Spec.InitContainers[0].Name)
	require.Equal(t, InitContainerName, again.Spec.InitContainers[1].Name)
}

func saOf(f fixture) *corev1.ServiceAccount {
	for _, o := range f.sas {
		if sa := o.(*corev1.ServiceAccount); sa.Name == f.pod.Spec.ServiceAccountName {
			return sa
		}
	}
	return nil
}
