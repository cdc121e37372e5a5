package irsawebhook

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
// through Mutate and compares the JSON Patch with testdata/NAME.patch.json;
// then applies the patch and checks the resulting pod.
func TestGolden(t *testing.T) {
	for _, path := range fixtures(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			f := loadFixture(t, path)
			h, _ := newTestHandler(t, f.opts, f.sas...)
			req := podRequest(t, "uid-"+name, f.ns, f.pod)
			req.Object.Raw = f.raw
			resp := h.Mutate(t.Context(), req)
			require.True(t, resp.Allowed)
			require.Nil(t, resp.Result)

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
				checkPatchedPod(t, f, resp.Patch)
			}
		})
	}
}

// checkPatchedPod applies patch to the fixture's pod and checks what any
// mutation must give: a valid pod (unique volumes, env names and mount
// paths), the token volume, every container not skipped with the
// credentials and a mount of the volume (or of something at its path), skipped ones unchanged, and a second
// invocation (reinvocationPolicy IfNeeded) changing nothing.
func checkPatchedPod(t *testing.T, f fixture, patch []byte) {
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
	}
	requireUnique(t, vols, "volume names")
	credEnv, volume, mountPath := []string{EnvRoleARN, EnvWebIdentityTokenFile}, VolumeName, MountPath
	if f.containerCredentials(t) {
		credEnv = []string{EnvContainerCredentialsFullURI, EnvContainerAuthorizationTokenFile}
		volume, mountPath = DefaultContainerCredentialsVolumeName, DefaultContainerCredentialsMountPath
		require.Equal(t, "enabled", pod.Labels[LabelPodIdentity])
		for k, v := range f.pod.Labels {
			require.Equal(t, v, pod.Labels[k], "the pod's own labels stay")
		}
	} else {
		require.NotContains(t, pod.Labels, LabelPodIdentity)
	}
	require.Contains(t, vols, volume)

	skipped := parsePodAnnotations(f.pod).SkipContainers
	before := slices.Concat(f.pod.Spec.InitContainers, f.pod.Spec.Containers)
	after := slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers)
	require.Len(t, after, len(before))
	for i, c := range after {
		var envs, mounts, mounted []string
		for _, e := range c.Env {
			envs = append(envs, e.Name)
		}
		for _, m := range c.VolumeMounts {
			mounts = append(mounts, filepath.Clean(m.MountPath))
			mounted = append(mounted, m.Name)
		}
		requireUnique(t, envs, c.Name+" env")
		requireUnique(t, mounts, c.Name+" mount paths")
		if skipped[c.Name] || setsAllGroups(before[i], credEnv) {
			require.Equal(t, before[i].Env, c.Env, c.Name)
			require.Equal(t, before[i].VolumeMounts, c.VolumeMounts, c.Name)
			continue
		}
		require.True(t, slices.Contains(envs, credEnv[0]) || slices.Contains(envs, credEnv[1]), c.Name)
		// The token volume is mounted where the pod already had it, or
		// something is mounted at the token's path.
		require.True(t, slices.Contains(mounted, volume) || slices.Contains(mounts, mountPath), "%s mounts %v at %v", c.Name, mounted, mounts)
	}

	// Reinvocation: the mutated pod mutates to itself.
	h, _ := newTestHandler(t, f.opts, f.sas...)
	req := podRequest(t, "again", f.ns, &pod)
	req.Object.Raw = out
	resp := h.Mutate(t.Context(), req)
	require.NotNil(t, resp.Patch)
	p2, err := jsonpatch.DecodePatch(resp.Patch)
	require.NoError(t, err)
	out2, err := p2.Apply(out)
	require.NoError(t, err)
	require.JSONEq(t, string(out), string(out2), "second invocation changed the pod")
}

// setsAllGroups reports whether c already sets a credential (of credEnv), a region and
// the STS variable: upstream leaves such a container alone.
func setsAllGroups(c corev1.Container, credEnv []string) bool {
	has := func(names ...string) bool {
		return slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return slices.Contains(names, e.Name) })
	}
	return has(credEnv...) && has(EnvRegion, EnvDefaultRegion) && has(EnvSTSRegionalEndpoints)
}

func requireUnique(t *testing.T, xs []string, what string) {
	t.Helper()
	seen := map[string]bool{}
	for _, x := range xs {
		require.False(t, seen[x], "duplicate %s %q", what, x)
		seen[x] = true
	}
}
