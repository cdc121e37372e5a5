// Package migration is the static-keys-to-IRSA suite: the walk-throughs'
// Flask and boto3 profile app (app.py), deployed in the lab's eks cluster
// first with an IAM user's access key in a Secret, then, the same code,
// with the Secret gone and its service account annotated for IRSA. Its
// rows check what a user of the app gets from the presigned link (fetched
// by another pod) and what the emulator decided, at each step: the key
// works, works from outside the cluster too (the leak), stops once
// deactivated; IRSA works, its links die with the session; and Debian's
// botocore presigns with Signature Version 2 unless told otherwise.
//
// This file holds the app and its Kubernetes objects; the e2e rows are in
// migration_test.go, and rehearsal_test.go (make test) runs every row's
// app, client and clock step on the composed cloud.
package migration

import (
	_ "embed"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// AppScript is app.py, the profile app.
//
//go:embed app.py
var AppScript string

// SigV4Config is the AWS shared config file that makes botocore presign
// with SigV4 without a change to the app's code: the s3 section's
// signature_version, which botocore reads for a client whose Config sets
// none (Debian's botocore 1.29 presigns with SigV2 in us-west-2 otherwise).
const SigV4Config = "[default]\ns3 =\n    signature_version = s3v4\n"

// The suite's names: its own namespace, role, bucket and object, so that it
// can run beside the other suites (it ages its role's sessions).
const (
	Namespace      = "idlab-migration"
	ServiceAccount = "profile-app"
	Account        = "123456789012"
	// RoleARN is the role the service account is annotated with; only
	// this suite's service account can assume it (fixtures/aws/lab.yaml).
	RoleARN = "arn:aws:iam::" + Account + ":role/migration-app"
	Bucket  = "migration-profiles"
	// ProfileUser's image is ObjectKey, holding ObjectText.
	ProfileUser = "alice"
	ObjectKey   = "profiles/" + ProfileUser + ".png"
	ObjectText  = "alice's profile image"
	Region      = "us-west-2"
	// Port is the app's and its Service's.
	Port = 8000
	// StaticUser is the IAM user whose access key the app first gets in
	// a Secret (fixtures/aws/lab.yaml: it may read what RoleARN may).
	StaticUser    = "migration-static"
	StaticUserARN = "arn:aws:iam::" + Account + ":user/idlab-migration/" + StaticUser
)

// ObjectARN is the profile image's ARN, the resource of every decision a
// row reads.
const ObjectARN = "arn:aws:s3:::" + Bucket + "/" + ObjectKey

// The objects' names.
const (
	appConfigMap = "profile-app"
	// KeysSecret holds the static keys, as AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY.
	KeysSecret = "profile-app-keys"
	appDir     = "/opt/profile-app"
	caDir      = "/etc/idlab"
)

// AppConfigMap holds app.py and SigV4Config.
func AppConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: appConfigMap},
		Data:       map[string]string{"app.py": AppScript, "aws-config": SigV4Config},
	}
}

// KeysSecretFor is the Secret of the static keys, as the walk-throughs
// make it (kubectl create secret generic --from-literal).
func KeysSecretFor(accessKeyID, secretAccessKey string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: KeysSecret},
		StringData: map[string]string{"AWS_ACCESS_KEY_ID": accessKeyID, "AWS_SECRET_ACCESS_KEY": secretAccessKey},
	}
}

// AppOptions say how a Deployment of the app is configured.
type AppOptions struct {
	// Image is the lab's pyclient image (Debian's boto3 and Flask).
	Image string
	// StaticKeys takes the environment from KeysSecret (envFrom).
	StaticKeys bool
	// SigV4 points AWS_CONFIG_FILE at SigV4Config; without it botocore
	// presigns as it does by default.
	SigV4 bool
}

// Deployment runs the app as name, one replica, with its service account,
// trusting the lab CA (the namespace's podrun.CAConfigMap), ready once it
// answers on Port.
func Deployment(name string, o AppOptions) *appsv1.Deployment {
	one := int32(1)
	labels := map[string]string{"app": name, "app.kubernetes.io/part-of": "idlab-scenarios"}
	env := []corev1.EnvVar{
		{Name: "PROFILE_BUCKET", Value: Bucket},
		{Name: "AWS_DEFAULT_REGION", Value: Region},
		{Name: "AWS_CA_BUNDLE", Value: caDir + "/ca.pem"},
		{Name: "SSL_CERT_FILE", Value: caDir + "/ca.pem"},
		{Name: "AWS_EC2_METADATA_DISABLED", Value: "true"},
		{Name: "PYTHONUNBUFFERED", Value: "1"},
	}
	if o.SigV4 {
		env = append(env, corev1.EnvVar{Name: "AWS_CONFIG_FILE", Value: appDir + "/aws-config"})
	}
	c := corev1.Container{
		Name: "app", Image: o.Image, ImagePullPolicy: corev1.PullNever,
		Command: []string{"python3", appDir + "/app.py"},
		Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: Port}},
		Env:     env,
		VolumeMounts: []corev1.VolumeMount{
			{Name: "idlab-ca", MountPath: caDir, ReadOnly: true},
			{Name: "app", MountPath: appDir, ReadOnly: true},
		},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(Port)}},
			PeriodSeconds: 1,
		},
	}
	if o.StaticKeys {
		c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: KeysSecret}}}}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: ServiceAccount,
					Containers:         []corev1.Container{c},
					Volumes: []corev1.Volume{
						{Name: "idlab-ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: podrun.CAConfigMap}}}},
						{Name: "app", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: appConfigMap}}}},
					},
				},
			},
		},
	}
}

// Service is the app's Service: Port to the Deployment name's pods.
func Service(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: Port, TargetPort: intstr.FromInt32(Port)}},
		},
	}
}

// ProfileURL is the page of ProfileUser in the app served as name, as a
// pod reaches it through the Service.
func ProfileURL(name string) string {
	return "http://" + name + "." + Namespace + ".svc.cluster.local:" + strconv.Itoa(Port) + "/profile/" + ProfileUser
}
