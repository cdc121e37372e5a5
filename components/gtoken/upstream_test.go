package gtoken

// The test tables of upstream's cmd/gtoken-webhook/main_test.go at tag 0.4.3
// (commit 710e8ca77b1b6b7331566a9385ac0ce68f118b6b, the newest release),
// written here as idlab's own cases and run against this package, and the
// behaviours of that commit's main.go that those tables leave out, each
// either identical or a deliberate difference listed in doc.go's table.
//
// Upstream's tests run in its testMode, where every session name is
// "gtoken-webhook-" and sixteen zeros; these rows fix the Handler's session
// names the same way (Handler.session), and TestSessionNames checks the
// names idlab draws otherwise.

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/idlab/idlab/internal/admissiontest"
)

// testModeSession is upstream's session name in its testMode.
const testModeSession = "gtoken-webhook-0000000000000000"

func testMode(*corev1.Pod, string, int) string { return testModeSession }

// upstreamOpts are the fields upstream's tables give the webhook.
func upstreamOpts(image, pull, tokenFile string) Options {
	return Options{Image: image, PullPolicy: corev1.PullPolicy(pull), VolumeName: "test-volume-name",
		VolumePath: "/test-volume-path", TokenFileName: tokenFile}
}

func TestUpstreamMutateContainers(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/testrole"
	mutated := func(name, image string) corev1.Container {
		return corev1.Container{Name: name, Image: image,
			VolumeMounts: []corev1.VolumeMount{{Name: "test-volume-name", MountPath: "/test-volume-path"}},
			Env: []corev1.EnvVar{
				{Name: "AWS_WEB_IDENTITY_TOKEN_FILE", Value: "/test-volume-path/test-token"},
				{Name: "AWS_ROLE_ARN", Value: role},
				{Name: "AWS_ROLE_SESSION_NAME", Value: testModeSession},
			}}
	}
	for _, tc := range []struct {
		name       string
		tokenFile  string
		have, want []corev1.Container
		mutated    bool
	}{
		{"mutate single container", "test-token", []corev1.Container{{Name: "TestContainer", Image: "test-image"}},
			[]corev1.Container{mutated("TestContainer", "test-image")}, true},
		{"mutate multiple container", "test-token",
			[]corev1.Container{{Name: "TestContainer1", Image: "test-image-1"}, {Name: "TestContainer2", Image: "test-image-2"}},
			[]corev1.Container{mutated("TestContainer1", "test-image-1"), mutated("TestContainer2", "test-image-2")}, true},
		{"no containers to mutate", "", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mutateContainers(tc.have, role, upstreamOpts("", "", tc.tokenFile), func(int) string { return testModeSession })
			require.Equal(t, tc.mutated, got)
			require.Equal(t, tc.want, tc.have)
		})
	}
}

func TestUpstreamMutatePod(t *testing.T) {
	gtokenC := func(name, refresh string) corev1.Container {
		return corev1.Container{Name: name, Image: "doitintl/gtoken:test",
			Command: []string{"/gtoken", "--file=/test-volume-path/test-token", "--refresh=" + refresh},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("5m"), corev1.ResourceMemory: resource.MustParse("10Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("20m"), corev1.ResourceMemory: resource.MustParse("50Mi")},
			},
			VolumeMounts:    []corev1.VolumeMount{{Name: "test-volume-name", MountPath: "/test-volume-path"}},
			ImagePullPolicy: "Always",
		}
	}
	want := corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{gtokenC("generate-gcp-id-token", "false")},
		Containers: []corev1.Container{
			{Name: "TestContainer", Image: "test-image",
				VolumeMounts: []corev1.VolumeMount{{Name: "test-volume-name", MountPath: "/test-volume-path"}},
				Env: []corev1.EnvVar{
					{Name: "AWS_WEB_IDENTITY_TOKEN_FILE", Value: "/test-volume-path/test-token"},
					{Name: "AWS_ROLE_ARN", Value: "arn:aws:iam::123456789012:role/testrole"},
					{Name: "AWS_ROLE_SESSION_NAME", Value: testModeSession},
				}},
			gtokenC("update-gcp-id-token", "true"),
		},
		Volumes: []corev1.Volume{{Name: "test-volume-name",
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}},
		ServiceAccountName: "test-sa",
	}}
	t.Run("mutate pod", func(t *testing.T) {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "test-sa", Namespace: "test-namespace",
			Annotations: map[string]string{AnnotationRoleARN: "arn:aws:iam::123456789012:role/testrole"}}}
		h, _ := newTestHandler(t, upstreamOpts("doitintl/gtoken:test", "Always", "test-token"), sa)
		h.session = testMode
		pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "TestContainer", Image: "test-image"}},
			ServiceAccountName: "test-sa"}}
		got := mutateThroughHandler(t, h, "test-namespace", pod)
		require.True(t, equality.Semantic.DeepEqual(want, got), "want %+v\ngot  %+v", want, got)
	})
}

// mutateThroughHandler posts pod to h.Mutate in namespace and returns the
// pod the patch makes of it (pod itself when there is no patch).
func mutateThroughHandler(t *testing.T, h *Handler, namespace string, pod *corev1.Pod) corev1.Pod {
	t.Helper()
	raw, err := json.Marshal(pod)
	require.NoError(t, err)
	resp := h.Mutate(t.Context(), admissiontest.PodRequest("u", namespace, pod.Name, raw))
	require.True(t, resp.Allowed)
	out := raw
	if resp.Patch != nil {
		p, err := jsonpatch.DecodePatch(resp.Patch)
		require.NoError(t, err)
		out, err = p.Apply(raw)
		require.NoError(t, err)
	}
	var got corev1.Pod
	require.NoError(t, json.Unmarshal(out, &got))
	return got
}

// TestUpstreamSourceBehaviours are what 0.4.3's main.go does beyond its
// tables: the rows named in idlab issue 15 and the dry-run answer. A row
// with a deliberate difference names its row of doc.go's table and checks
// idlab's side of it.
func TestUpstreamSourceBehaviours(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	const role = "arn:aws:iam::111122223333:role/s3-reader"
	envOf := func(p corev1.Pod, name string) []string {
		var vs []string
		for _, e := range p.Spec.Containers[0].Env {
			if e.Name == name {
				vs = append(vs, e.Value)
			}
		}
		return vs
	}
	for _, tc := range []struct {
		name       string
		deliberate string // doc.go's table row, "" when identical
		run        func(t *testing.T, h *Handler)
	}{
		{name: "a container's own AWS_ROLE_ARN is followed by the ServiceAccount's (mutateContainers appends)", run: func(t *testing.T, h *Handler) {
			pod := appPod()
			pod.Spec.Containers[0].Env = []corev1.EnvVar{{Name: EnvRoleARN, Value: "arn:aws:iam::111122223333:role/own"}}
			got := mutateThroughHandler(t, h, "apps", pod)
			require.Equal(t, []string{"arn:aws:iam::111122223333:role/own", role}, envOf(got, EnvRoleARN), "the last one wins")
		}},
		{name: "a second invocation mutates again (mutatePod checks nothing)", run: func(t *testing.T, h *Handler) {
			once := mutateThroughHandler(t, h, "apps", appPod())
			twice := mutateThroughHandler(t, h, "apps", &once)
			require.Len(t, twice.Spec.InitContainers, 2)
			require.Equal(t, twice.Spec.InitContainers[0].Name, twice.Spec.InitContainers[1].Name, "duplicate names: the API server refuses the pod")
			require.Len(t, envOf(twice, EnvRoleARN), 2)
		}},
		{name: "an empty role-arn annotation mutates (getAwsRoleArn reports it present)", run: func(t *testing.T, h *Handler) {
			pod := appPod()
			pod.Spec.ServiceAccountName = "empty"
			got := mutateThroughHandler(t, h, "apps", pod)
			require.Equal(t, []string{""}, envOf(got, EnvRoleARN))
			require.Equal(t, InitContainerName, got.Spec.InitContainers[0].Name)
		}},
		{name: "no role-arn annotation: no patch", run: func(t *testing.T, h *Handler) {
			pod := appPod()
			pod.Spec.ServiceAccountName = "plain"
			require.Equal(t, *pod, mutateThroughHandler(t, h, "apps", pod))
		}},
		{name: "a missing ServiceAccount", deliberate: "missing ServiceAccount", run: func(t *testing.T, h *Handler) {
			pod := appPod()
			pod.Spec.ServiceAccountName = "ghost"
			require.Equal(t, *pod, mutateThroughHandler(t, h, "apps", pod), "allowed unmutated, the webhook still up")
		}},
		{name: "a dry run", deliberate: "dry run", run: func(t *testing.T, h *Handler) {
			raw, err := json.Marshal(appPod())
			require.NoError(t, err)
			req := admissiontest.PodRequest("u", "apps", "p", raw)
			req.DryRun = ptr.To(true)
			resp := h.Mutate(t.Context(), req)
			p, err := jsonpatch.DecodePatch(resp.Patch)
			require.NoError(t, err)
			out, err := p.Apply(raw)
			require.NoError(t, err)
			var got corev1.Pod
			require.NoError(t, json.Unmarshal(out, &got))
			// Upstream adds the mount and variables but not the volume: the
			// dry-run pod would name a volume it lacks.
			require.Equal(t, VolumeName, got.Spec.Volumes[0].Name, "the whole mutation, volume included")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.deliberate != "" {
				require.Contains(t, string(doc), "//\t"+tc.deliberate, "doc.go's table lists %q", tc.deliberate)
			}
			h, _ := newTestHandler(t, Options{}, roleSA("apps", "app"),
				&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "empty", Annotations: map[string]string{AnnotationRoleARN: ""}}},
				&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "plain"}})
			tc.run(t, h)
		})
	}
}

// TestSessionNames: outside upstream's testMode, each container gets a
// session name of upstream's shape (the prefix and 16 letters a-y), its own.
func TestSessionNames(t *testing.T) {
	h, _ := newTestHandler(t, Options{}, roleSA("apps", "app"))
	pod := appPod()
	pod.Spec.InitContainers = []corev1.Container{{Name: "i"}}
	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "b"})
	got := mutateThroughHandler(t, h, "apps", pod)
	seen := map[string]bool{}
	for _, c := range append(got.Spec.InitContainers[1:], got.Spec.Containers[:2]...) {
		v := c.Env[len(c.Env)-1].Value
		require.Regexp(t, `^gtoken-webhook-[a-y]{16}$`, v)
		require.False(t, seen[v], "%s shares a session name", c.Name)
		seen[v] = true
	}
	require.Len(t, seen, 3)
}
