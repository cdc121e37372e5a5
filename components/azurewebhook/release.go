package azurewebhook

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path"
)

// Release is an upstream release whose pod layout (token volume name,
// mount path, token path) the webhook reproduces.
type Release string

// The releases the webhook reproduces.
const (
	// Release160 (v1.6.0, tagged 2026-06-11, commit 04d01a2) mounts a
	// projected volume named per pod (ProjectedVolumeNamePrefix and a hash
	// of the pod's name) at /var/run/secrets/azure/wi, the token at
	// token/azure-identity-token, and replaces a volume or mount of that
	// name when the pod already has one.
	Release160 Release = "v1.6.0"
	// Release151 (v1.5.1, commit 30e0f1b) mounts the volume
	// azure-identity-token at /var/run/secrets/azure/tokens, the token at
	// azure-identity-token, and leaves a pod's existing mount of that name
	// or projected token at that path alone.
	Release151 Release = "v1.5.1"
	// DefaultRelease is the newest release.
	DefaultRelease = Release160
)

// The layouts' names and paths.
const (
	// ProjectedVolumeNamePrefix starts v1.6.0's per-pod volume name.
	ProjectedVolumeNamePrefix = "azure-workload-identity-reserved-"
	// MountPath160 and TokenPath160 are v1.6.0's.
	MountPath160 = "/var/run/secrets/azure/wi"
	TokenPath160 = "token/azure-identity-token"
	// VolumeName151, MountPath151 and TokenPath151 are v1.5.1's.
	VolumeName151 = "azure-identity-token"
	MountPath151  = "/var/run/secrets/azure/tokens"
	TokenPath151  = "azure-identity-token"
)

// ErrUnknownRelease is returned for a Release the webhook does not
// reproduce.
var ErrUnknownRelease = errors.New("unknown upstream release")

func (r Release) known() bool { return r == Release160 || r == Release151 }

// MountPath is where each container mounts the token volume.
func (r Release) MountPath() string {
	if r == Release151 {
		return MountPath151
	}
	return MountPath160
}

// TokenPath is the token's path inside the volume.
func (r Release) TokenPath() string {
	if r == Release151 {
		return TokenPath151
	}
	return TokenPath160
}

// TokenFile is AZURE_FEDERATED_TOKEN_FILE.
func (r Release) TokenFile() string { return path.Join(r.MountPath(), r.TokenPath()) }

// VolumeName is the token volume's name in the pod named podName (its
// generateName and " (prefix)" when it has no name yet, as upstream): in
// v1.6.0 the prefix and the first 30 hex digits of the name's SHA-256, so
// the name is at most 63 characters.
func (r Release) VolumeName(podName string) string {
	if r == Release151 {
		return VolumeName151
	}
	sum := sha256.Sum256([]byte(podName))
	return ProjectedVolumeNamePrefix + hex.EncodeToString(sum[:])[:63-len(ProjectedVolumeNamePrefix)]
}
