package azurewebhook

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/idlab/idlab/internal/golden"
)

// Fixture annotations choosing the handler's options: the release (default
// v1.6.0) and "false" for a pre-1.32 API server without native sidecars.
const (
	testReleaseAnnotation = "test.idlab.dev/release"
	testNativeAnnotation  = "test.idlab.dev/native-sidecar"
)

// fixtureOptions reads the fixture pod's test annotations.
func fixtureOptions(pod *corev1.Pod) Options {
	o := Options{Release: Release(pod.Annotations[testReleaseAnnotation])}
	if pod.Annotations[testNativeAnnotation] == "false" {
		o.NativeSidecar = ptr.To(false)
	}
	return o
}

// TestGolden runs every testdata/NAME.yaml through Mutate, compares the
// JSON Patch with testdata/NAME.patch.json, applies it and checks the pod.
func TestGolden(t *testing.T) {
	for _, path := range fixtures(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			f := loadFixture(t, path)
			opts := fixtureOptions(f.pod)
			h, _ := newTestHandlerWith(t, opts, f.sas...)
			req := podRequest("uid-"+name, f.pod.Namespace, f.raw)
			resp := h.Mutate(t.Context(), req)
			require.True(t, resp.Allowed, "%v", resp.Result)
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

// checkPatchedPod applies the patch and checks the result: one token
// volume of the release's name, every container not skipped with the
// variables (existing ones untouched) and the mount, skipped ones
// unchanged, and a second invocation changing nothing.
func checkPatchedPod(t *testing.T, h *Handler, f fixture, patch []byte) {
	t.Helper()
	p, err := jsonpatch.DecodePatch(patch)
	require.NoError(t, err)
	out, err := p.Apply(f.raw)
	require.NoError(t, err)
	var pod corev1.Pod
	require.NoError(t, json.Unmarshal(out, &pod))

	r := h.opts.Release
	volume := r.VolumeName(podName(f.pod))
	var tokenVols int
	for _, v := range pod.Spec.Volumes {
		if v.Name == volume {
			tokenVols++
			s := v.Projected.Sources[0].ServiceAccountToken
			require.Equal(t, DefaultAudience, s.Audience)
			require.Equal(t, r.TokenPath(), s.Path)
			want, err := tokenExpiration(f.pod, saOf(f))
			require.NoError(t, err)
			require.Equal(t, want, *s.ExpirationSeconds)
		}
	}
	require.Equal(t, 1, tokenVols)

	skip := skipContainers(f.pod)
	orig := map[string]corev1.Container{}
	for _, c := range append(append([]corev1.Container(nil), f.pod.Spec.InitContainers...), f.pod.Spec.Containers...) {
		orig[c.Name] = c
	}
	for _, c := range append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if skip[c.Name] {
			require.Equal(t, orig[c.Name], c, "skipped container %s changed", c.Name)
			continue
		}
		env := map[string]corev1.EnvVar{}
		for _, e := range c.Env {
			_, dup := env[e.Name]
			require.False(t, dup, "duplicate env %s", e.Name)
			env[e.Name] = e
		}
		for _, e := range orig[c.Name].Env {
			require.Equal(t, e, env[e.Name], "existing env %s overridden", e.Name)
		}
		require.Contains(t, env, TenantIDEnv)
		require.Contains(t, env, AuthorityHostEnv)
		if _, had := orig[c.Name]; !had || !hasEnv(orig[c.Name], FederatedTokenFileEnv) {
			require.Equal(t, r.TokenFile(), env[FederatedTokenFileEnv].Value)
		}
		if id := saOf(f).Annotations[ClientIDAnnotation]; id != "" {
			require.Contains(t, env, ClientIDEnv)
		} else {
			require.NotContains(t, env, ClientIDEnv)
		}
		require.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: volume, MountPath: r.MountPath(), ReadOnly: true})
	}

	again := h.Mutate(t.Context(), podRequest("again", f.pod.Namespace, out))
	require.True(t, again.Allowed)
	require.Nil(t, again.Patch, "second invocation patched: %s", again.Patch)
}

func hasEnv(c corev1.Container, name string) bool {
	for _, e := range c.Env {
		if e.Name == name {
			return true
		}
	}
	return false
}

func saOf(f fixture) *corev1.ServiceAccount {
	return f.sas[0].(*corev1.ServiceAccount)
}
