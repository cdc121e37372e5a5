// Package emulatorpod makes the Kubernetes objects that run the lab's
// emulator (`idlab serve`) inside an existing cluster instead of as a
// container beside kind clusters: a Deployment of one pod with its data dir
// on an emptyDir, its serve config, issuers and fixtures in a ConfigMap,
// the lab CA and the admin secret in Secrets, and a ClusterIP Service
// for the cloud plane only. The admin API listens on the pod's loopback,
// so only a port-forward with the kubeconfig's rights reaches it.
package emulatorpod

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/idlab/idlab/harness/cloud"
	"github.com/idlab/idlab/internal/certs"
)

// Names, ports and paths of the emulator's objects and container.
const (
	// Name names the Deployment, the Service, the ConfigMap and the
	// prefix of the Secrets.
	Name = "idlab-emulator"
	// CloudPort is the container's cloud-plane port (HTTPS), which the
	// Service exposes as ServicePort: pods call https://sts.amazonaws.com
	// on 443. Not 443 in the container: it runs without capabilities.
	CloudPort   = 8443
	ServicePort = 443
	// AdminPort is the admin API's port on the pod's 127.0.0.1.
	AdminPort = 8444
	// The container's directories: the ConfigMap's files, the CA Secret,
	// the admin Secret and the emptyDir data dir.
	ConfigDir = "/config"
	CADir     = "/ca"
	AdminDir  = "/admin"
	DataDir   = "/data"
	// ServeConfigFile is the serve config inside ConfigDir.
	ServeConfigFile = "serve.yaml"
	// ConfigHashAnnotation on the pod template changes when the files,
	// the CA or the secret change, so a new up restarts the emulator with
	// them (the issuer's keys are re-read on every up).
	ConfigHashAnnotation = "idlab.dev/config-hash"
)

// Selector picks the emulator's pod.
const Selector = "app=" + Name

// Labels go on every object the package makes; idlab down deletes by them.
func Labels() map[string]string {
	return map[string]string{"app": Name, "app.kubernetes.io/managed-by": "idlab"}
}

// Spec is what the emulator runs with.
type Spec struct {
	Namespace string
	// Image is the idlab image (its entrypoint the idlab binary).
	Image string
	// PullPolicy defaults to IfNotPresent: a kind-loaded image is never
	// pulled, a pushed one is pulled once.
	PullPolicy corev1.PullPolicy
	// Files are the serve config (ServeConfigFile), issuers, key sets and
	// fixtures, by path relative to ConfigDir.
	Files map[string][]byte
	// CA is the lab CA, made by the harness at run time.
	CA *certs.CA
	// CAKeyPEM is the CA's key as certs keeps it (PKCS#8 PEM).
	CAKeyPEM []byte
	// AdminSecret is the admin API's bearer secret.
	AdminSecret string
	// ConfigHash is ConfigHashAnnotation's value.
	ConfigHash string
}

// ServeConfig is the serve config the pod runs with: fixtures, issuers and
// region as given (paths under ConfigDir), the CA from CADir, the admin
// API on the pod's loopback, decisions logged (the pod's log is what a
// failed run exports).
func ServeConfig(region string, fixtureDirs map[string]string, issuers string) cloud.ServeConfig {
	sc := cloud.ServeConfig{DataDir: DataDir + "/serve", CADir: CADir, Listen: "0.0.0.0", HTTPSPort: CloudPort, Region: region,
		AdminListen: fmt.Sprintf("127.0.0.1:%d", AdminPort), AdminSecretFile: AdminDir + "/" + adminSecretKey, LogDecisions: true}
	if issuers != "" {
		sc.Issuers = path.Join(ConfigDir, issuers)
	}
	sc.Fixtures = dirIn(fixtureDirs["aws"])
	for _, fd := range cloud.FixtureDirs() {
		if d := fixtureDirs[fd.Dir]; d != "" {
			fd.Set(&sc, path.Join(ConfigDir, d))
		}
	}
	return sc
}

func dirIn(d string) string {
	if d == "" {
		return ""
	}
	return path.Join(ConfigDir, d)
}

const adminSecretKey = "admin.secret"

// Objects are the emulator's objects in apply order: Namespace, ConfigMap,
// CA Secret, admin Secret, Deployment, Service.
func Objects(s Spec) ([]runtime.Object, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	keyPEM := s.CAKeyPEM
	labels := Labels()
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: s.Namespace, Labels: labels}
	}
	paths := make([]string, 0, len(s.Files))
	for p := range s.Files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	cm := &corev1.ConfigMap{ObjectMeta: meta(Name), Data: map[string]string{}}
	var items []corev1.KeyToPath
	for i, p := range paths {
		key := fmt.Sprintf("file-%03d", i)
		cm.Data[key] = string(s.Files[p])
		items = append(items, corev1.KeyToPath{Key: key, Path: p})
	}
	caSecret := &corev1.Secret{ObjectMeta: meta(Name + "-ca"), Data: map[string][]byte{certs.CertFile: s.CA.PEM, certs.KeyFile: keyPEM}}
	adminSecret := &corev1.Secret{ObjectMeta: meta(Name + "-admin"), Data: map[string][]byte{adminSecretKey: []byte(s.AdminSecret + "\n")}}
	pull := s.PullPolicy
	if pull == "" {
		pull = corev1.PullIfNotPresent
	}
	podLabels := map[string]string{"app": Name}
	dep := &appsv1.Deployment{
		ObjectMeta: meta(Name),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			// One emulator at a time: its state is in memory and on the
			// emptyDir, and two would judge the same lab apart.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Selector: &metav1.LabelSelector{MatchLabels: podLabels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: map[string]string{ConfigHashAnnotation: s.ConfigHash}},
				Spec: corev1.PodSpec{
					// It calls no Kubernetes API.
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					Containers: []corev1.Container{{
						Name: "emulator", Image: s.Image, ImagePullPolicy: pull,
						Args:  []string{"serve", "--config", path.Join(ConfigDir, ServeConfigFile)},
						Ports: []corev1.ContainerPort{{Name: "https", ContainerPort: CloudPort}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(CloudPort)}},
							PeriodSeconds: 1, FailureThreshold: 3},
						// Root without any capability: the admin secret must
						// be 0600 and its reader's own (cloud.ReadAdminSecret),
						// which a Secret volume gives only to root (an fsGroup
						// would make it group-readable).
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
							Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
						VolumeMounts: []corev1.VolumeMount{
							{Name: "config", MountPath: ConfigDir, ReadOnly: true},
							{Name: "ca", MountPath: CADir, ReadOnly: true},
							{Name: "admin", MountPath: AdminDir, ReadOnly: true},
							{Name: "data", MountPath: DataDir},
							// The root file system is read only; Go's
							// os.CreateTemp writes here.
							{Name: "tmp", MountPath: "/tmp"},
						},
					}},
					Volumes: []corev1.Volume{
						{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: Name}, Items: items}}},
						{Name: "ca", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: caSecret.Name, DefaultMode: ptr.To[int32](0o400)}}},
						{Name: "admin", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: adminSecret.Name, DefaultMode: ptr.To[int32](0o400)}}},
						{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					},
				},
			},
		},
	}
	svc := &corev1.Service{ObjectMeta: meta(Name), Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeClusterIP, Selector: podLabels,
		Ports: []corev1.ServicePort{{Name: "https", Port: ServicePort, TargetPort: intstr.FromInt32(CloudPort)}},
	}}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.Namespace, Labels: labels}}
	return []runtime.Object{ns, cm, caSecret, adminSecret, dep, svc}, nil
}

// check refuses a Spec the pod could not run with.
func (s Spec) check() error {
	var errs []error
	if s.Namespace == "" {
		errs = append(errs, errors.New("no namespace"))
	}
	if s.Image == "" {
		errs = append(errs, errors.New("no image"))
	}
	if s.CA == nil || len(s.CAKeyPEM) == 0 {
		errs = append(errs, errors.New("no lab CA"))
	}
	if s.AdminSecret == "" {
		errs = append(errs, errors.New("no admin secret"))
	}
	if _, ok := s.Files[ServeConfigFile]; !ok {
		errs = append(errs, fmt.Errorf("no %s among the files", ServeConfigFile))
	}
	for p := range s.Files {
		if p == "" || path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, "..") {
			errs = append(errs, fmt.Errorf("file %q: want a clean relative path", p))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("emulator pod: %w", err)
	}
	return nil
}
