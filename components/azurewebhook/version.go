package azurewebhook

import (
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/discovery"
)

// nativeSidecarVersion is the first Kubernetes version upstream runs the
// proxy as a native sidecar on: SidecarContainers went beta in 1.29, and
// with the kubelet's three-version skew 1.32 is the first API server all
// of whose kubelets have it.
var nativeSidecarVersion = version.MajorMinor(1, 32)

// serverAtLeast reports whether the API server's version is v or newer.
func serverAtLeast(d discovery.ServerVersionInterface, v *version.Version) (bool, error) {
	info, err := d.ServerVersion()
	if err != nil {
		return false, err
	}
	sv, err := version.ParseSemantic(info.GitVersion)
	if err != nil {
		return false, err
	}
	return sv.AtLeast(v), nil
}
