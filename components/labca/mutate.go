package labca

import (
	"path"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Names and paths the webhook injects.
const (
	// NamespaceLabel on a namespace, with the value NamespaceEnabled, opts
	// its pods in.
	NamespaceLabel   = "idlab.dev/lab-ca"
	NamespaceEnabled = "enabled"
	// SkipLabel on a pod (any value) keeps the webhook away from it.
	SkipLabel = "labca.idlab.dev/skip"

	// BundleConfigMap is the ConfigMap in each labelled namespace that
	// holds the bundle, and VolumeName the pod volume mounting it.
	BundleConfigMap = "idlab-lab-ca"
	VolumeName      = "idlab-lab-ca"
	// MountDir is where every container sees the files.
	MountDir = "/etc/idlab-lab-ca"
	// BundleFile holds the system roots and the lab CA; LabCAFile the lab
	// CA alone (for tools that add to their own roots).
	BundleFile = "ca-bundle.crt"
	LabCAFile  = "lab-ca.crt"
)

// Variable is an environment variable the webhook sets and the file it
// points at.
type Variable struct {
	Name string
	File string // BundleFile or LabCAFile
	// ReadBy says which tools read it, and where that is documented.
	ReadBy string
}

// Variables are the trust-store variables of the major SDKs and tools, in
// the order the webhook adds them. All but NODE_EXTRA_CA_CERTS replace the
// tool's roots, so they point at the whole bundle; Node.js adds
// NODE_EXTRA_CA_CERTS to its own, so it gets the lab CA alone.
var Variables = []Variable{
	{"SSL_CERT_FILE", BundleFile, "OpenSSL's default CA file (X509_get_default_cert_file_env), so Python's ssl, Ruby, " +
		"and Go's crypto/x509 on Linux (src/crypto/x509/root_unix.go, certFileEnv)"},
	{"AWS_CA_BUNDLE", BundleFile, "the AWS SDKs and CLI (ca_bundle setting: aws-sdk-go-v2 config/env_config.go awsCABundleEnv; " +
		"botocore configprovider.py 'ca_bundle', so boto3 and awscli)"},
	{"REQUESTS_CA_BUNDLE", BundleFile, "Python requests (sessions.py merge_environment_settings, before CURL_CA_BUNDLE)"},
	{"CURL_CA_BUNDLE", BundleFile, "curl (curl(1): used as the --cacert value) and Python requests"},
	{"NODE_EXTRA_CA_CERTS", LabCAFile, "Node.js, added to its bundled roots (doc/api/cli.md, nodejs/node 6963e8aa9d)"},
	{"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", BundleFile, "gRPC C core and its wrappers: Python grpcio, Ruby, C++, PHP (grpc/grpc doc/environment_variables.md)"},
}

// PatchOperation is one RFC 6902 JSON Patch operation.
type PatchOperation struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// MutatePod returns the JSON Patch that makes every container and init
// container of pod trust the lab CA, without changing pod; nil when there
// is nothing to do (every container has the mount and the variables), when
// the pod opts out with SkipLabel, or when it has a volume named
// VolumeName that is not the bundle (a clash the webhook must not touch).
// A variable a container sets already keeps its value; a container that
// mounts something else at MountDir keeps it. Repeated calls (the
// webhook's reinvocation, after another webhook added a container) add
// only what is missing.
func MutatePod(pod *corev1.Pod) []PatchOperation {
	if pod == nil {
		return nil
	}
	if _, skip := pod.Labels[SkipLabel]; skip {
		return nil
	}
	hasVolume := false
	for _, v := range pod.Spec.Volumes {
		if v.Name != VolumeName {
			continue
		}
		if v.ConfigMap == nil || v.ConfigMap.Name != BundleConfigMap {
			return nil
		}
		hasVolume = true
	}
	var ops []PatchOperation
	for _, kind := range []struct {
		path string
		cs   []corev1.Container
	}{{"/spec/initContainers", pod.Spec.InitContainers}, {"/spec/containers", pod.Spec.Containers}} {
		for i, c := range kind.cs {
			ops = append(ops, containerOps(kind.path+"/"+strconv.Itoa(i), c)...)
		}
	}
	if len(ops) == 0 {
		return nil
	}
	if !hasVolume {
		vol := corev1.Volume{Name: VolumeName, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: BundleConfigMap}}}}
		// The volume comes first: the mounts below name it.
		if len(pod.Spec.Volumes) == 0 {
			ops = append([]PatchOperation{{Op: "add", Path: "/spec/volumes", Value: []corev1.Volume{vol}}}, ops...)
		} else {
			ops = append([]PatchOperation{{Op: "add", Path: "/spec/volumes/-", Value: vol}}, ops...)
		}
	}
	return ops
}

// containerOps adds the mount (unless MountDir is taken) and the variables
// the container lacks.
func containerOps(base string, c corev1.Container) []PatchOperation {
	var ops []PatchOperation
	mounted := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.Name == VolumeName || path.Clean(m.MountPath) == MountDir
	})
	if !mounted {
		m := corev1.VolumeMount{Name: VolumeName, MountPath: MountDir, ReadOnly: true}
		if len(c.VolumeMounts) == 0 {
			ops = append(ops, PatchOperation{Op: "add", Path: base + "/volumeMounts", Value: []corev1.VolumeMount{m}})
		} else {
			ops = append(ops, PatchOperation{Op: "add", Path: base + "/volumeMounts/-", Value: m})
		}
	}
	var env []corev1.EnvVar
	for _, v := range Variables {
		if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == v.Name }) {
			env = append(env, corev1.EnvVar{Name: v.Name, Value: MountDir + "/" + v.File})
		}
	}
	switch {
	case len(env) == 0:
	case len(c.Env) == 0:
		ops = append(ops, PatchOperation{Op: "add", Path: base + "/env", Value: env})
	default:
		for _, e := range env {
			ops = append(ops, PatchOperation{Op: "add", Path: base + "/env/-", Value: e})
		}
	}
	return ops
}
