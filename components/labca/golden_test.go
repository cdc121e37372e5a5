package labca

import (
	"bytes"
	"encoding/json"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/idlab/idlab/internal/admissiontest"
	"github.com/idlab/idlab/internal/golden"
)

// TestGolden runs every testdata/NAME.yaml pod through the handler and
// compares the JSON Patch with testdata/NAME.patch.json ("null" for none);
// then applies the patch and checks the pod.
func TestGolden(t *testing.T) {
	h := New(Options{})
	for _, p := range admissiontest.Paths(t) {
		name := strings.TrimSuffix(filepath.Base(p), ".yaml")
		t.Run(name, func(t *testing.T) {
			f := admissiontest.Load(t, p)
			req := admissiontest.PodRequest("uid-"+name, f.Pod.Namespace, f.Pod.Name, f.Raw)
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
				checkPatchedPod(t, h, f.Pod, resp.Patch)
			}
		})
	}
}

// checkPatchedPod applies patch and checks: one bundle volume, every
// container mounts it unless its own mount holds MountDir, every
// container has every variable with its own values kept, and a second
// pass changes nothing.
func checkPatchedPod(t *testing.T, h *Handler, before *corev1.Pod, patch []byte) {
	t.Helper()
	var ops []PatchOperation
	require.NoError(t, json.Unmarshal(patch, &ops))
	pod := admissiontest.Apply(t, before, ops)

	n := 0
	for _, v := range pod.Spec.Volumes {
		if v.Name == VolumeName {
			n++
			require.NotNil(t, v.ConfigMap)
			require.Equal(t, BundleConfigMap, v.ConfigMap.Name)
		}
	}
	require.Equal(t, 1, n, "one bundle volume")
	for _, v := range before.Spec.Volumes {
		require.True(t, slices.ContainsFunc(pod.Spec.Volumes, func(w corev1.Volume) bool { return w.Name == v.Name }), "volume %s kept", v.Name)
	}

	was := slices.Concat(before.Spec.InitContainers, before.Spec.Containers)
	now := slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers)
	require.Len(t, now, len(was))
	for i, c := range now {
		own := map[string]corev1.EnvVar{}
		for _, e := range was[i].Env {
			own[e.Name] = e
		}
		env := map[string]corev1.EnvVar{}
		for _, e := range c.Env {
			_, dup := env[e.Name]
			require.False(t, dup, "%s: %s twice", c.Name, e.Name)
			env[e.Name] = e
		}
		for _, v := range Variables {
			e, ok := env[v.Name]
			require.True(t, ok, "%s lacks %s", c.Name, v.Name)
			if o, set := own[v.Name]; set {
				require.Equal(t, o, e, "%s: its own %s is kept", c.Name, v.Name)
			} else {
				require.Equal(t, MountDir+"/"+v.File, e.Value)
			}
		}
		for name, e := range own {
			require.Equal(t, e, env[name], "%s: %s kept", c.Name, name)
		}
		var atDir []corev1.VolumeMount
		for _, m := range c.VolumeMounts {
			if path.Clean(m.MountPath) == MountDir {
				atDir = append(atDir, m)
			}
		}
		require.Len(t, atDir, 1, "%s: one mount at %s", c.Name, MountDir)
		if !slices.ContainsFunc(was[i].VolumeMounts, func(m corev1.VolumeMount) bool { return path.Clean(m.MountPath) == MountDir }) {
			require.Equal(t, corev1.VolumeMount{Name: VolumeName, MountPath: MountDir, ReadOnly: true}, atDir[0])
		}
	}

	raw, err := json.Marshal(pod)
	require.NoError(t, err)
	again := h.Mutate(t.Context(), admissiontest.PodRequest("again", pod.Namespace, pod.Name, raw))
	require.True(t, again.Allowed)
	require.Nil(t, again.Patch, "a second pass adds nothing")
}
