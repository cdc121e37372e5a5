package emulatorpod

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/internal/certs"
)

func spec(t *testing.T) Spec {
	t.Helper()
	ca, err := certs.NewCA("test")
	require.NoError(t, err)
	return Spec{Namespace: "idlab-cloud", Image: "idlab/emulator:abc", CA: ca, CAKeyPEM: []byte("KEY"), AdminSecret: "s3cret", ConfigHash: "h1",
		Files: map[string][]byte{ServeConfigFile: []byte("x: 1\n"), "issuers.yaml": []byte("issuers: []\n"), "fixtures/lab.yaml": []byte("accounts: []\n")}}
}

func TestObjects(t *testing.T) {
	objs, err := Objects(spec(t))
	require.NoError(t, err)
	require.Len(t, objs, 6)
	ns, cm, caS, adminS, dep, svc := objs[0].(*corev1.Namespace), objs[1].(*corev1.ConfigMap), objs[2].(*corev1.Secret),
		objs[3].(*corev1.Secret), objs[4].(*appsv1.Deployment), objs[5].(*corev1.Service)
	require.Equal(t, "idlab-cloud", ns.Name)
	for _, m := range []map[string]string{ns.Labels, cm.Labels, caS.Labels, adminS.Labels, dep.Labels, svc.Labels} {
		require.Equal(t, "idlab", m["app.kubernetes.io/managed-by"], "idlab down finds every object by this label")
	}
	// Files by sorted path, each under its own key.
	vols := dep.Spec.Template.Spec.Volumes
	require.Equal(t, []corev1.KeyToPath{{Key: "file-000", Path: "fixtures/lab.yaml"}, {Key: "file-001", Path: "issuers.yaml"}, {Key: "file-002", Path: "serve.yaml"}},
		vols[0].ConfigMap.Items)
	require.Equal(t, map[string]string{"file-000": "accounts: []\n", "file-001": "issuers: []\n", "file-002": "x: 1\n"}, cm.Data)
	require.Equal(t, "KEY", string(caS.Data[certs.KeyFile]))
	require.Equal(t, "s3cret\n", string(adminS.Data["admin.secret"]))
	require.Equal(t, int32(0o400), *vols[1].Secret.DefaultMode)
	require.Equal(t, int32(0o400), *vols[2].Secret.DefaultMode)
	require.NotNil(t, vols[3].EmptyDir, "the data dir is an emptyDir")
	c := dep.Spec.Template.Spec.Containers[0]
	require.Equal(t, corev1.PullIfNotPresent, c.ImagePullPolicy)
	require.Equal(t, []string{"serve", "--config", "/config/serve.yaml"}, c.Args)
	require.Equal(t, "h1", dep.Spec.Template.Annotations[ConfigHashAnnotation])
	require.False(t, *dep.Spec.Template.Spec.AutomountServiceAccountToken)
	require.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop)
	require.Equal(t, appsv1.RecreateDeploymentStrategyType, dep.Spec.Strategy.Type)
	// The admin port is in no port list: neither the Service nor the
	// container declares it.
	require.Len(t, svc.Spec.Ports, 1)
	require.Equal(t, int32(ServicePort), svc.Spec.Ports[0].Port)
	require.Equal(t, int32(CloudPort), svc.Spec.Ports[0].TargetPort.IntVal)
	require.Equal(t, corev1.ServiceTypeClusterIP, svc.Spec.Type)
	for _, p := range c.Ports {
		require.NotEqual(t, int32(AdminPort), p.ContainerPort)
	}
}

func TestObjectsRefuses(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(*Spec)
		errMatch string
	}{
		{"no namespace", func(s *Spec) { s.Namespace = "" }, "no namespace"},
		{"no image", func(s *Spec) { s.Image = "" }, "no image"},
		{"no CA", func(s *Spec) { s.CA = nil }, "no lab CA"},
		{"no CA key", func(s *Spec) { s.CAKeyPEM = nil }, "no lab CA"},
		{"no admin secret", func(s *Spec) { s.AdminSecret = "" }, "no admin secret"},
		{"no serve config", func(s *Spec) { delete(s.Files, ServeConfigFile) }, "no serve.yaml"},
		{"absolute path", func(s *Spec) { s.Files["/etc/passwd"] = nil }, `"/etc/passwd"`},
		{"escaping path", func(s *Spec) { s.Files["../x"] = nil }, `"../x"`},
		{"unclean path", func(s *Spec) { s.Files["a//b"] = nil }, `"a//b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := spec(t)
			tc.mutate(&s)
			_, err := Objects(s)
			require.ErrorContains(t, err, tc.errMatch)
		})
	}
}

// TestServeConfig: what the pod serves with parses as serve reads it, and
// its admin API is on the pod's loopback only.
func TestServeConfig(t *testing.T) {
	tests := []struct {
		name     string
		dirs     map[string]string
		issuers  string
		wantAWS  string
		wantGCP  string
		wantIssu string
	}{
		{name: "aws fixtures and issuers", dirs: map[string]string{"aws": "fixtures"}, issuers: "issuers.yaml", wantAWS: "/config/fixtures", wantIssu: "/config/issuers.yaml"},
		{name: "every cloud", dirs: map[string]string{"aws": "fixtures", "gcp": "fixtures-gcp"}, wantAWS: "/config/fixtures", wantGCP: "/config/fixtures-gcp"},
		{name: "none"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := ServeConfig("us-west-2", tc.dirs, tc.issuers)
			raw, err := yaml.Marshal(sc)
			require.NoError(t, err)
			got, err := cloud.ParseServeConfig(raw)
			require.NoError(t, err)
			require.Equal(t, sc, got)
			require.Equal(t, tc.wantAWS, got.Fixtures)
			require.Equal(t, tc.wantGCP, got.GCPFixtures)
			require.Equal(t, tc.wantIssu, got.Issuers)
			require.Equal(t, CADir, got.CADir)
			network, addr, err := cloud.ParseAdminListen(got.AdminListen)
			require.NoError(t, err)
			require.Equal(t, "tcp", network)
			host, _, err := net.SplitHostPort(addr)
			require.NoError(t, err)
			require.True(t, net.ParseIP(host).IsLoopback())
		})
	}
}
