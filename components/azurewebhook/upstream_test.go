package azurewebhook

// The test tables of upstream's pkg/webhook/webhook_test.go, written here
// as idlab's own cases and run against this package:
//
//   - v1.6.0 (tag v1.6.0, commit 04d01a2fc7f5024290a38f6ccaf69561cf70455d):
//     every case of its 16 tests, 61 in all, each row named as upstream
//     names it (upstreamV160 below).
//   - v1.5.1 (tag v1.5.1, commit 30e0f1b79f36c41a459bcf5331fe3641e1fab90a):
//     62 cases. 49 are v1.6.0's cases unchanged (same input, same
//     expectation) and run once above; the 13 that differ, those of the
//     token volume, its mount, the variables and TestMutateContainers, run
//     with Release151 (upstreamV151 below).
//
// Where upstream asserts little (TestHandle only checks that the pod is
// allowed and the patch removes nothing) the rows check that too, and also
// that the patch gives the pod its identity.

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/version"
	apiversion "k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// upstreamVolume is the volume name upstream's v1.6.0 tests pass to the
// functions that take one.
const upstreamVolume = "azure-workload-identity-reserved-2eb503ce-4af0-45d3-82b1-d79bdfe63d38"

// upstreamPod is the pod of upstream's newPod helper: one init container,
// one container.
func upstreamPod(name, ns, sa string, labels, annotations map[string]string, hostNetwork bool) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: annotations},
		Spec: corev1.PodSpec{
			ServiceAccountName: sa,
			InitContainers:     []corev1.Container{{Name: "init-container", Image: "init-container-image"}},
			Containers:         []corev1.Container{{Name: "container", Image: "image"}},
			HostNetwork:        hostNetwork,
		},
	}
}

func upstreamPodRaw(t *testing.T, name, ns, sa string, labels, annotations map[string]string, hostNetwork bool) []byte {
	t.Helper()
	raw, err := json.Marshal(upstreamPod(name, ns, sa, labels, annotations, hostNetwork))
	require.NoError(t, err)
	return raw
}

// upstreamSAs are upstream's TestHandle ServiceAccounts: default and sa in
// ns1, client ID "clientID", token expiration 4800.
func upstreamSAs() []runtime.Object {
	var out []runtime.Object
	for _, name := range []string{"default", "sa"} {
		out = append(out, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns1",
			Annotations: map[string]string{ClientIDAnnotation: "clientID", TokenExpirationAnnotation: "4800"}}})
	}
	return out
}

// upstreamHandler is a Handler over a fake API holding sas. inCache: its
// cache lists them (upstream's client); otherwise the cache lists nothing
// and only a GET finds them (upstream's API reader).
func upstreamHandler(t *testing.T, sas []runtime.Object, inCache bool, r Release) *Handler {
	t.Helper()
	client := fake.NewClientset(sas...)
	client.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &apiversion.Info{GitVersion: "v1.34.4"}
	if !inCache {
		client.PrependReactor("list", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, &corev1.ServiceAccountList{}, nil
		})
	}
	h, err := New(t.Context(), Options{Release: r, TenantID: "tenantID", Client: client})
	require.NoError(t, err)
	t.Cleanup(h.Close)
	require.Eventually(t, func() bool {
		h.cache.mu.RLock()
		defer h.cache.mu.RUnlock()
		return h.cache.synced && (len(h.cache.items) > 0) == (inCache && len(sas) > 0)
	}, 5e9, 1e7, "the cache never listed")
	return h
}

func handle(t *testing.T, h *Handler, raw []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	return h.Mutate(t.Context(), &admissionv1.AdmissionRequest{
		UID:       "u",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Object:    runtime.RawExtension{Raw: raw},
		Namespace: "ns1",
		Operation: admissionv1.Create,
	})
}

func tokenProjection(name, path, audience string, exp int64) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
			Path: path, ExpirationSeconds: ptr.To(exp), Audience: audience}}},
	}}}
}

func envs(kv ...string) []corev1.EnvVar {
	var out []corev1.EnvVar
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, corev1.EnvVar{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// TestUpstreamV160 runs upstream v1.6.0's cases.
func TestUpstreamV160(t *testing.T) {
	t.Run("TestGetServiceAccountTokenExpiration", func(t *testing.T) {
		sa := func(ann map[string]string) *corev1.ServiceAccount {
			return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sa", Namespace: "default", Annotations: ann}}
		}
		pod := func(ann map[string]string) *corev1.Pod {
			return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod", Namespace: "default", Annotations: ann}}
		}
		for _, tc := range []struct {
			name    string
			pod     *corev1.Pod
			sa      *corev1.ServiceAccount
			want    int64
			wantErr bool
		}{
			{"pod token expiry annotation invalid", pod(map[string]string{TokenExpirationAnnotation: "3600s"}), sa(nil), 0, true},
			{"service account token expiry annotation invalid", &corev1.Pod{}, sa(map[string]string{TokenExpirationAnnotation: "3600s"}), 0, true},
			{"invalid token expiry < 3600", pod(map[string]string{TokenExpirationAnnotation: "3599"}), sa(nil), 0, true},
			{"invalid token expiry > 86400", pod(map[string]string{TokenExpirationAnnotation: "86401"}), sa(nil), 0, true},
			{"valid token expiry defined in service account", pod(nil), sa(map[string]string{TokenExpirationAnnotation: "4800"}), 4800, false},
			{"token expiry in pod preferred over service account token expiry", pod(map[string]string{TokenExpirationAnnotation: "4000"}),
				sa(map[string]string{TokenExpirationAnnotation: "4800"}), 4000, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := tokenExpiration(tc.pod, tc.sa)
				require.Equal(t, tc.want, got)
				require.Equal(t, tc.wantErr, err != nil, "%v", err)
			})
		}
	})

	t.Run("TestGetClientID", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			ann  map[string]string
			want string
		}{
			{"client id not present", nil, ""},
			{"client id present", map[string]string{ClientIDAnnotation: "client-id"}, "client-id"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sa", Namespace: "default", Annotations: tc.ann}}
				require.Equal(t, tc.want, identityFor(sa, Options{}).ClientID)
			})
		}
	})

	t.Run("TestGetTenantID", func(t *testing.T) {
		for _, tc := range []struct {
			name, config string
			ann          map[string]string
			want         string
		}{
			{"tenant ID annotation defined", "", map[string]string{TenantIDAnnotation: "tenant-id"}, "tenant-id"},
			{"tenant ID annotation not defined, use default", "tenant-id", nil, "tenant-id"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sa", Namespace: "default", Annotations: tc.ann}}
				require.Equal(t, tc.want, identityFor(sa, Options{TenantID: tc.config}).TenantID)
			})
		}
	})

	t.Run("TestGetSkipContainers", func(t *testing.T) {
		for _, tc := range []struct {
			name, ann string
			want      map[string]bool
		}{
			{"no skip containers defined", "", nil},
			{"one skip container defined", "container1", map[string]bool{"container1": true}},
			{"multiple skip containers defined delimited by ;", "container1;container2", map[string]bool{"container1": true, "container2": true}},
			{"multiple skip containers defined with extra space", "container1; container2", map[string]bool{"container1": true, "container2": true}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod", Namespace: "default"}}
				if tc.ann != "" {
					pod.Annotations = map[string]string{SkipContainersAnnotation: tc.ann}
				}
				require.Equal(t, tc.want, skipContainers(pod))
			})
		}
	})

	t.Run("TestAddProjectedVolume", func(t *testing.T) {
		want := []corev1.Volume{tokenProjection(upstreamVolume, "token/azure-identity-token", "api://AzureADTokenExchange", 3600)}
		for _, tc := range []struct {
			name string
			have []corev1.Volume
		}{
			{"no volumes in the pod", nil},
			{"azure-identity-token projected volume already exists", want},
			{"existing projected service account token volume overridden with desired audience",
				[]corev1.Volume{tokenProjection(upstreamVolume, "my-projected-volume", "aud", 3600)}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod", Namespace: "default"}, Spec: corev1.PodSpec{Volumes: tc.have}}
				addVolume(pod, upstreamVolume, 3600, Options{Release: Release160, Audience: DefaultAudience})
				require.Equal(t, want, pod.Spec.Volumes)
			})
		}
	})

	t.Run("TestAddEnvironmentVariables", func(t *testing.T) {
		runAddEnv(t, "/var/run/secrets/azure/wi/token/azure-identity-token", Release160)
	})

	t.Run("TestAddProjectServiceAccountTokenVolumeMount", func(t *testing.T) {
		mount := corev1.VolumeMount{Name: upstreamVolume, MountPath: "/var/run/secrets/azure/wi", ReadOnly: true}
		pods := corev1.VolumeMount{Name: "my-volume-mount", MountPath: "/var/run/pods"}
		for _, tc := range []struct {
			name       string
			have, want []corev1.VolumeMount
		}{
			{"volume mount added to container", nil, []corev1.VolumeMount{mount}},
			{"volume mount added to existing volume mounts for container", []corev1.VolumeMount{pods}, []corev1.VolumeMount{pods, mount}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := corev1.Container{Name: "cont1", Image: "image", VolumeMounts: tc.have}
				addMount(&c, upstreamVolume, Release160)
				require.Equal(t, corev1.Container{Name: "cont1", Image: "image", VolumeMounts: tc.want}, c)
			})
		}
	})

	t.Run("TestHandle", func(t *testing.T) { runHandle(t, Release160) })

	t.Run("TestGetAzureAuthorityHost", func(t *testing.T) {
		for _, tc := range []struct {
			name, cloud, want string
			wantErr           bool
		}{
			{"default azure environment", "", "https://login.microsoftonline.com/", false},
			{"public cloud", "AzurePublicCloud", "https://login.microsoftonline.com/", false},
			{"us government cloud", "AzureUSGovernmentCloud", "https://login.microsoftonline.us/", false},
			{"china cloud", "AzureChinaCloud", "https://login.chinacloudapi.cn/", false},
			{"german cloud", "AzureGermanCloud", "https://login.microsoftonline.de/", false},
			{"invalid cloud name", "InvalidCloud", "", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := cloudAuthorityHost(tc.cloud)
				require.Equal(t, tc.wantErr, err != nil, "%v", err)
				require.Equal(t, tc.want, got)
				// Through Options too: New and MutatePod refuse an unknown cloud.
				o, err := Options{Cloud: tc.cloud}.withDefaults()
				require.Equal(t, tc.wantErr, err != nil, "%v", err)
				if !tc.wantErr {
					require.Equal(t, tc.want, o.AuthorityHost)
				}
			})
		}
	})

	t.Run("TestMutateContainers", func(t *testing.T) {
		runMutateContainers(t, upstreamVolume, "/var/run/secrets/azure/wi", "/var/run/secrets/azure/wi/token/azure-identity-token", Release160)
	})

	t.Run("TestInjectProxyInitContainer", func(t *testing.T) {
		const image = "my.proxy-image-registry.io/azwi/proxy-init:v1.0.0"
		init := corev1.Container{
			Name: "azwi-proxy-init", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
			SecurityContext: &corev1.SecurityContext{
				Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}},
				Privileged:   ptr.To(true), RunAsNonRoot: ptr.To(false), RunAsUser: ptr.To[int64](0),
			},
			Env: envs("PROXY_PORT", "8080"),
		}
		mine := corev1.Container{Name: "my-container", Image: "my-image"}
		for _, tc := range []struct {
			name       string
			have, want []corev1.Container
		}{
			{"no init containers", []corev1.Container{}, []corev1.Container{init}},
			{"proxy init container manually injected", []corev1.Container{init}, []corev1.Container{init}},
			{"inject proxy init container to existing init containers", []corev1.Container{mine}, []corev1.Container{mine, init}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				require.Equal(t, tc.want, appendProxyInit(tc.have, 8080, image))
			})
		}
	})

	t.Run("TestInjectProxySidecarContainer", func(t *testing.T) {
		const image = "my.proxy-image-registry.io/azwi/proxy:v1.0.0"
		side := corev1.Container{
			Name: "azwi-proxy", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
			Args:  []string{"--proxy-port=8081", "--log-level=debug"},
			Ports: []corev1.ContainerPort{{ContainerPort: 8081}},
			Lifecycle: &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{
				Command: []string{"/proxy", "--proxy-port=8081", "--probe", "--log-level=debug"}}}},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				Privileged: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true), RunAsNonRoot: ptr.To(true),
			},
		}
		native := side
		native.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		mine := corev1.Container{Name: "my-container", Image: "my-image"}
		for _, tc := range []struct {
			name       string
			have, want []corev1.Container
			restart    *corev1.ContainerRestartPolicy
		}{
			{"no containers", []corev1.Container{}, []corev1.Container{side}, nil},
			{"proxy sidecar container manually injected", []corev1.Container{side}, []corev1.Container{side}, nil},
			{"inject proxy sidecar container to existing containers", []corev1.Container{mine}, []corev1.Container{side, mine}, nil},
			{"inject proxy native sidecar container to existing containers when restartPolicy is set", []corev1.Container{mine},
				[]corev1.Container{native, mine}, ptr.To(corev1.ContainerRestartPolicyAlways)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				opts := Options{ProxyImage: image, ProxyLogLevel: "debug"}
				require.Equal(t, tc.want, prependProxySidecar(tc.have, 8081, opts, tc.restart))
			})
		}
	})

	t.Run("TestShouldInjectProxySidecar", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			ann  map[string]string
			want bool
		}{
			{"pod not annotated", nil, false},
			{"pod is annotated with azure.workload.identity/inject-proxy-sidecar=true", map[string]string{InjectProxySidecarAnnotation: "true"}, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				require.Equal(t, tc.want, wantsProxy(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod", Annotations: tc.ann}}))
			})
		}
	})

	t.Run("TestGetProxyPort", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			ann     map[string]string
			want    int32
			wantErr bool
		}{
			{"pod not annotated", nil, 8000, false},
			{"pod has no azure.workload.identity/proxy-sidecar-port annotation", map[string]string{"test": "test"}, 8000, false},
			{"pod is annotated with azure.workload.identity/proxy-sidecar-port=8080", map[string]string{ProxySidecarPortAnnotation: "8080"}, 8080, false},
			{"pod is annotated with azure.workload.identity/proxy-sidecar-port=invalid", map[string]string{ProxySidecarPortAnnotation: "invalid"}, 0, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := proxyPort(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod", Annotations: tc.ann}})
				require.Equal(t, tc.wantErr, err != nil, "%v", err)
				require.Equal(t, tc.want, got)
			})
		}
	})

	t.Run("TestHandleError", func(t *testing.T) { runHandleError(t, Release160) })

	t.Run("TestServerVersionGTE", func(t *testing.T) {
		for _, tc := range []struct {
			name, server string
			min          *version.Version
			want         bool
		}{
			{"Exact match", "1.20.0", version.MajorMinor(1, 20), true},
			{"Higher major version", "2.0.0", version.MajorMinor(1, 25), true},
			{"Higher minor version", "1.25.0", version.MajorMinor(1, 20), true},
			{"Lower minor version", "1.18.0", version.MajorMinor(1, 20), false},
			{"Lower major version", "0.25.0", version.MajorMinor(1, 20), false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d := fake.NewClientset().Discovery().(*fakediscovery.FakeDiscovery)
				d.FakedServerVersion = version.MustParseGeneric(tc.server).Info()
				got, err := serverAtLeast(d, tc.min)
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
			})
		}
	})
}

// TestUpstreamV151 runs the cases v1.5.1's tests have and v1.6.0's do not:
// its layout's volume, mount, variables and containers.
func TestUpstreamV151(t *testing.T) {
	const volume = "azure-identity-token"
	t.Run("TestAddProjectedServiceAccountTokenVolume", func(t *testing.T) {
		own := tokenProjection(volume, "azure-identity-token", "api://AzureADTokenExchange", 3600)
		other := tokenProjection(volume, "my-projected-volume", "aud", 3600)
		for _, tc := range []struct {
			name       string
			have, want []corev1.Volume
		}{
			{"no volumes in the pod", nil, []corev1.Volume{own}},
			{"azure-identity-token projected volume already exists", []corev1.Volume{own}, []corev1.Volume{own}},
			// v1.5.1 appends beside a volume of the same name: the pod is
			// invalid, and the API server refuses it.
			{"existing projected service account token volume not affected", []corev1.Volume{other}, []corev1.Volume{other, own}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod", Namespace: "default"}, Spec: corev1.PodSpec{Volumes: tc.have}}
				addVolume(pod, volume, 3600, Options{Release: Release151, Audience: DefaultAudience})
				require.Equal(t, tc.want, pod.Spec.Volumes)
			})
		}
	})

	t.Run("TestAddEnvironmentVariables", func(t *testing.T) {
		runAddEnv(t, "/var/run/secrets/azure/tokens/azure-identity-token", Release151)
	})

	t.Run("TestAddProjectServiceAccountTokenVolumeMount", func(t *testing.T) {
		mount := corev1.VolumeMount{Name: volume, MountPath: "/var/run/secrets/azure/tokens", ReadOnly: true}
		pods := corev1.VolumeMount{Name: "my-volume-mount", MountPath: "/var/run/pods"}
		elsewhere := corev1.VolumeMount{Name: volume, MountPath: "mountPath"}
		for _, tc := range []struct {
			name       string
			have, want []corev1.VolumeMount
		}{
			{"volume mount added to container", nil, []corev1.VolumeMount{mount}},
			{"volume mount with name already exists, so skipped", []corev1.VolumeMount{elsewhere}, []corev1.VolumeMount{elsewhere}},
			{"volume mount added to existing volume mounts for container", []corev1.VolumeMount{pods}, []corev1.VolumeMount{pods, mount}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := corev1.Container{Name: "cont1", Image: "image", VolumeMounts: tc.have}
				addMount(&c, volume, Release151)
				require.Equal(t, corev1.Container{Name: "cont1", Image: "image", VolumeMounts: tc.want}, c)
			})
		}
	})

	t.Run("TestMutateContainers", func(t *testing.T) {
		runMutateContainers(t, volume, "/var/run/secrets/azure/tokens", "/var/run/secrets/azure/tokens/azure-identity-token", Release151)
	})

	// v1.5.1's TestHandle and TestHandleError are v1.6.0's cases; run with
	// v1.5.1's layout too.
	t.Run("TestHandle", func(t *testing.T) { runHandle(t, Release151) })
	t.Run("TestHandleError", func(t *testing.T) { runHandleError(t, Release151) })
}

// runAddEnv is TestAddEnvironmentVariables, whose token file differs
// between the releases.
func runAddEnv(t *testing.T, tokenFile string, r Release) {
	const host = "https://login.microsoftonline.com/"
	all := envs("AZURE_CLIENT_ID", "clientID", "AZURE_TENANT_ID", "tenantID", "AZURE_FEDERATED_TOKEN_FILE", tokenFile, "AZURE_AUTHORITY_HOST", host)
	mine := envs("AZURE_CLIENT_ID", "myClientID", "AZURE_TENANT_ID", "myTenantID", "AZURE_FEDERATED_TOKEN_FILE", tokenFile, "AZURE_AUTHORITY_HOST", host)
	for _, tc := range []struct {
		name       string
		id         identity
		have, want []corev1.EnvVar
	}{
		{"environment variables added to container", identity{"clientID", "tenantID", host}, nil, all},
		{"existing environment variables not replaced", identity{"clientID", "tenantID", host}, mine, mine},
		{"environment variables added to existing list", identity{"clientID", "tenantID", host}, envs("MY_ENV_VAR", "test"),
			append(envs("MY_ENV_VAR", "test"), all...)},
		{"environment variables are not added when empty", identity{}, nil, envs("AZURE_FEDERATED_TOKEN_FILE", tokenFile)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := corev1.Container{Name: "cont1", Image: "image", Env: tc.have}
			addEnv(&c, tc.id, r.TokenFile())
			require.Equal(t, corev1.Container{Name: "cont1", Image: "image", Env: tc.want}, c)
		})
	}
}

// runMutateContainers is TestMutateContainers for a release's layout.
func runMutateContainers(t *testing.T, volume, mountPath, tokenFile string, r Release) {
	mutated := corev1.Container{Name: "my-container", Image: "my-image",
		Env: envs("AZURE_CLIENT_ID", "client-id", "AZURE_TENANT_ID", "tenant-id", "AZURE_FEDERATED_TOKEN_FILE", tokenFile,
			"AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"),
		VolumeMounts: []corev1.VolumeMount{{Name: volume, MountPath: mountPath, ReadOnly: true}}}
	skip := corev1.Container{Name: "skip-container", Image: "skip-image"}
	for _, tc := range []struct {
		name       string
		have, want []corev1.Container
		skip       map[string]bool
	}{
		{"no containers", []corev1.Container{}, []corev1.Container{}, nil},
		{"one container", []corev1.Container{{Name: "my-container", Image: "my-image"}}, []corev1.Container{mutated}, nil},
		{"one container and one skip container", []corev1.Container{{Name: "my-container", Image: "my-image"}, skip},
			[]corev1.Container{mutated, skip}, map[string]bool{"skip-container": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mutateContainers(tc.have, identity{"client-id", "tenant-id", "https://login.microsoftonline.com/"}, tc.skip, volume, r)
			require.Equal(t, tc.want, tc.have)
		})
	}
}

// runHandle is TestHandle: every pod is allowed and its patch removes
// nothing; here also, its containers get the client ID and the token file.
func runHandle(t *testing.T, r Release) {
	for _, tc := range []struct {
		name    string
		raw     func(t *testing.T) []byte
		inCache bool
	}{
		{"service account in cache", func(t *testing.T) []byte { return upstreamPodRaw(t, "pod", "ns1", "sa", nil, nil, false) }, true},
		{"service account not in cache", func(t *testing.T) []byte { return upstreamPodRaw(t, "pod", "ns1", "sa", nil, nil, false) }, false},
		{"default service account in cache", func(t *testing.T) []byte { return upstreamPodRaw(t, "pod", "ns1", "", nil, nil, false) }, true},
		{"default service account not in cache", func(t *testing.T) []byte { return upstreamPodRaw(t, "pod", "ns1", "", nil, nil, false) }, false},
		{"pod has the required label, no warnings", func(t *testing.T) []byte {
			return upstreamPodRaw(t, "pod", "ns1", "sa", map[string]string{UseLabel: "true"}, nil, false)
		}, true},
		{"pod has the required label, restart policy in init container", func(*testing.T) []byte {
			return []byte(`{"metadata":{"name":"pod","namespace":"ns1","creationTimestamp":null,"labels":{"azure.workload.identity/use":"true"}},` +
				`"spec":{"initContainers":[{"name":"init-container","image":"init-container-image","restartPolicy":"Always"}],` +
				`"containers":[{"name":"container","image":"image","resources":{}}]}}`)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := upstreamHandler(t, upstreamSAs(), tc.inCache, r)
			raw := tc.raw(t)
			resp := handle(t, h, raw)
			require.True(t, resp.Allowed, "expected to be allowed: %v", resp.Result)
			var ops []PatchOp
			require.NoError(t, json.Unmarshal(resp.Patch, &ops))
			for _, op := range ops {
				require.NotEqual(t, "remove", op.Op, "expected no remove patches, got: %v", op)
			}
			p, err := jsonpatch.DecodePatch(resp.Patch)
			require.NoError(t, err)
			out, err := p.Apply(raw)
			require.NoError(t, err)
			var pod corev1.Pod
			require.NoError(t, json.Unmarshal(out, &pod))
			for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
				require.Contains(t, c.Env, corev1.EnvVar{Name: "AZURE_CLIENT_ID", Value: "clientID"}, c.Name)
				require.Contains(t, c.Env, corev1.EnvVar{Name: "AZURE_FEDERATED_TOKEN_FILE", Value: r.TokenFile()}, c.Name)
			}
			require.Len(t, pod.Spec.Volumes, 1)
			require.Equal(t, int64(4800), *pod.Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken.ExpirationSeconds)
			if strings.Contains(tc.name, "restart policy") {
				require.Equal(t, corev1.ContainerRestartPolicyAlways, *pod.Spec.InitContainers[0].RestartPolicy)
			}
		})
	}
}

// runHandleError is TestHandleError: each pod is refused with a message
// containing upstream's.
func runHandleError(t *testing.T, r Release) {
	labelled := map[string]string{UseLabel: "true"}
	for _, tc := range []struct {
		name string
		raw  func(t *testing.T) []byte
		sas  []runtime.Object
		want string
	}{
		{"failed to decode pod", func(*testing.T) []byte { return []byte("invalid") }, upstreamSAs(), `couldn't get version/kind`},
		{"service account not found", func(t *testing.T) []byte { return upstreamPodRaw(t, "pod", "ns1", "sa", labelled, nil, true) },
			nil, `serviceaccounts "sa" not found`},
		{"pod has host network", func(t *testing.T) []byte {
			return upstreamPodRaw(t, "pod", "ns1", "sa", labelled, map[string]string{InjectProxySidecarAnnotation: "true"}, true)
		}, upstreamSAs(), "hostNetwork is set to true, cannot inject proxy sidecar"},
		{"invalid proxy port", func(t *testing.T) []byte {
			return upstreamPodRaw(t, "pod", "ns1", "sa", labelled,
				map[string]string{InjectProxySidecarAnnotation: "true", ProxySidecarPortAnnotation: "invalid"}, false)
		}, upstreamSAs(), `failed to parse proxy sidecar port: strconv.ParseInt: parsing "invalid": invalid syntax`},
		{"invalid sa token expiry", func(t *testing.T) []byte {
			return upstreamPodRaw(t, "pod", "ns1", "sa", labelled, map[string]string{TokenExpirationAnnotation: "invalid"}, false)
		}, upstreamSAs(), `strconv.ParseInt: parsing "invalid": invalid syntax`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := upstreamHandler(t, tc.sas, true, r)
			resp := handle(t, h, tc.raw(t))
			require.False(t, resp.Allowed, "expected to be denied")
			require.Contains(t, resp.Result.Message, tc.want)
			require.Nil(t, resp.Patch)
		})
	}
}

// TestUpstreamMessagesExact: the refusals read exactly as upstream's, not
// only contain them, and wrap idlab's sentinels.
func TestUpstreamMessagesExact(t *testing.T) {
	h := upstreamHandler(t, upstreamSAs(), true, Release160)
	resp := handle(t, h, []byte("invalid"))
	require.Equal(t, `couldn't get version/kind; json parse error: json: cannot unmarshal string into Go value of type struct { APIVersion string "json:\"apiVersion,omitempty\""; Kind string "json:\"kind,omitempty\"" }`,
		resp.Result.Message)
	resp = handle(t, h, nil)
	require.Equal(t, "there is no content to decode", resp.Result.Message)

	pod := upstreamPod("pod", "ns1", "sa", nil, map[string]string{InjectProxySidecarAnnotation: "", ProxySidecarPortAnnotation: "x"}, false)
	_, _, err := MutatePod(pod, &corev1.ServiceAccount{}, Options{})
	require.ErrorIs(t, err, ErrInvalidProxyPort)
	pod.Spec.HostNetwork = true
	_, _, err = MutatePod(pod, &corev1.ServiceAccount{}, Options{})
	require.ErrorIs(t, err, ErrProxyOnHostNetwork)
	require.EqualError(t, err, "hostNetwork is set to true, cannot inject proxy sidecar")
	_, _, err = MutatePod(&corev1.Pod{}, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Annotations: map[string]string{TokenExpirationAnnotation: "86401"}}}, Options{})
	require.ErrorIs(t, err, ErrInvalidExpiration)
	require.EqualError(t, err, "token expiration 86401 not valid. Expected value to be between 3600 and 86400")
}

// TestVolumeNamePerPod: v1.6.0 names the volume from the pod's name as
// upstream's buildVolumeName does (SHA-256, first 30 hex digits), and
// before the API server names a generateName pod, from its prefix.
func TestVolumeNamePerPod(t *testing.T) {
	require.Equal(t, "azure-workload-identity-reserved-425c89ed5bb78a7623fae60fd8a6f6", Release160.VolumeName("pod"))
	require.Len(t, Release160.VolumeName("pod"), 63)
	require.Equal(t, Release160.VolumeName("web- (prefix)"), Release160.VolumeName(podName(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-"}})))
	require.NotEqual(t, Release160.VolumeName("a"), Release160.VolumeName("b"))
	require.Equal(t, "azure-identity-token", Release151.VolumeName("pod"))
	require.Equal(t, "/var/run/secrets/azure/wi/token/azure-identity-token", filepath.Join(Release160.MountPath(), Release160.TokenPath()))
}
