// Package cni names the pod networks the lab's clusters can run and what
// each asks of the lab: the kind config (kindnet, or a conflist of the
// lab's mounted into every node) and the host interfaces pods' traffic
// enters a node on, which kube2iam's --host-interface matches.
//
// Three are known: bridge, the static bridge conflist built into the
// offline node image (every pod's veth on the bridge cni0); ptp, the CNI
// ptp plugin as kindnet uses it (a veth per pod, no bridge, host ends
// named veth<hex>); and kindnet, kind's own CNI in kindest/node images,
// which runs ptp too.
package cni
