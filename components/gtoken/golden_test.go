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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

// checkPatchedPod applies patch to the fixture's pod and checks the result:
// the in-memory token volume, the gtoken init container first and sidecar
// last, every original container mounting the volume and holding the three
// variables (its own values kept), unique names, and a second invocation
// leaving the pod alone.
func checkPatchedPod(t *testing.T, h *Handler, f fixture, patch []byte) {
	t.Helper()
	p, err := jsonpatch.DecodePatch(patch)
	require.NoError(t, err)
	out, err := p.Apply(f.raw)
	require.NoError(t, err)
	var pod corev1.Pod
	require.NoError(t, json.Unmarshal(out, &pod))

	var vols []string
	for _, v := range pod.Spec.Volumes {
		vols = append(vols, v.Name)
		if v.Name == VolumeName {
			require.NotNil(t, v.EmptyDir)
			require.Equal(t, corev1.StorageMediumMemory, v.EmptyDir.Medium)
		}
	}
	requireUnique(t, vols, "volume names")
	require.Contains(t, vols, VolumeName)
	for _, v := range f.pod.Spec.Volumes {
		require.Contains(t, vols, v.Name)
	}

	require.Len(t, pod.Spec.InitContainers, len(f.pod.Spec.InitContainers)+1)
	require.Len(t, pod.Spec.Containers, len(f.pod.Spec.Containers)+1)
	init, side := pod.Spec.InitContainers[0], pod.Spec.Containers[len(pod.Spec.Containers)-1]
	require.Equal(t, InitContainerName, init.Name)
	require.Equal(t, SidecarContainerName, side.Name)
	for c, refresh := range map[*corev1.Container]string{&init: "false", &side: "true"} {
		require.Equal(t, "gtoken:test", c.Image)
		require.Equal(t, []string{"/gtoken", "--file=/var/run/secrets/aws/token/gtoken", "--refresh=" + refresh}, c.Command)
		require.Equal(t, []corev1.VolumeMount{{Name: VolumeName, MountPath: MountPath}}, c.VolumeMounts)
		require.Empty(t, c.Env)
	}

	before := slices.Concat(f.pod.Spec.InitContainers, f.pod.Spec.Containers)
	after := slices.Concat(pod.Spec.InitContainers[1:], pod.Spec.Containers[:len(pod.Spec.Containers)-1])
	require.Len(t, after, len(before))
	wantEnv := map[string]string{
		EnvWebIdentityTokenFile: "/var/run/secrets/aws/token/gtoken",
		EnvRoleARN:              testRoleARN,
		EnvRoleSessionName:      SessionName(&corev1.Pod{ObjectMeta: withNS(f.pod.ObjectMeta, f.ns)}),
	}
	require.Regexp(t, `^gtoken-webhook-[a-z]{16}$`, wantEnv[EnvRoleSessionName])
	for i, c := range after {
		require.Equal(t, before[i].Name, c.Name)
		env := map[string]string{}
		var names, mounts []string
		for _, e := range c.Env {
			env[e.Name] = e.Value
			names = append(names, e.Name)
		}
		for _, m := range c.VolumeMounts {
			mounts = append(mounts, filepath.Clean(m.MountPath))
		}
		requireUnique(t, names, c.Name+" env")
		requireUnique(t, mounts, c.Name+" mount paths")
		require.Contains(t, mounts, MountPath, c.Name)
		for _, e := range before[i].Env {
			require.Equal(t, e.Value, env[e.Name], "%s: %s overridden", c.Name, e.Name)
		}
		for k, v := range wantEnv {
			if !slices.ContainsFunc(before[i].Env, func(e corev1.EnvVar) bool { return e.Name == k }) {
				require.Equal(t, v, env[k], "%s: %s", c.Name, k)
			}
		}
	}

	// A second pass (reinvocation) leaves the mutated pod alone.
	req := podRequest(t, "again", f.ns, &pod)
	req.Object.Raw = out
	resp := h.Mutate(t.Context(), req)
	require.True(t, resp.Allowed)
	require.Nil(t, resp.Patch)
}

func withNS(m metav1.ObjectMeta, ns string) metav1.ObjectMeta {
	if ns != "" {
		m.Namespace = ns
	}
	return m
}

func requireUnique(t *testing.T, xs []string, what string) {
	t.Helper()
	seen := map[string]bool{}
	for _, x := range xs {
		require.False(t, seen[x], "duplicate %s %q", what, x)
		seen[x] = true
	}
}
