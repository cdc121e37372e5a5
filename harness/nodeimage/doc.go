// Package nodeimage provides the kind node image the lab's clusters run on.
//
// Ensure returns kind's published kindest/node:<version> when Docker has it or
// can pull it. Where no registry is reachable (the lab's normal case), it
// builds an equivalent image offline, the way kind's own base and node images
// are made but from parts this machine can reach:
//
//   - a Debian root filesystem from debootstrap (mirror from
//     IDLAB_DEBIAN_MIRROR, else the host's apt sources, else deb.debian.org)
//     with systemd, containerd, runc, iptables and the CNI plugins;
//   - kind's images/base/files from the sigs.k8s.io/kind module, with
//     containerd told to clamp oom_score_adj (hosts without CAP_SYS_RESOURCE)
//     and to use the pause tag kubeadm expects;
//   - Kubernetes, etcd, CoreDNS, pause and a small crictl built from the Go
//     module proxy by hack/build-k8s.sh;
//   - the control-plane images kubeadm asks for, made FROM scratch (kube-proxy
//     on the Debian base for iptables) and imported into the node's containerd;
//   - a static bridge CNI conflist, so clusters on a built image must set
//     networking.disableDefaultCNI (Result.DisableDefaultCNI), since kindnetd
//     cannot be pulled.
//
// Built images are named idlab/node:<k8s version>-<hash of every input>, so a
// second run finds the image and returns in seconds; the debootstrap+kind base
// is cached as idlab/node-base:<hash> so new binaries skip debootstrap. When
// the binaries are not built yet, hack/build-k8s.sh runs while debootstrap
// does. Steps print as "[2/8] debootstrap bookworm ... 48.2s".
//
// The package only orchestrates: it drives the docker CLI, debootstrap and
// bash (root is needed for debootstrap and chroot). Every command's output is
// kept in a log in the work dir, and a failure names the command and shows the
// tail of its log.
//
// Environment (read by ResolveOptions, not by Ensure):
//
//	IDLAB_DEBIAN_MIRROR   Debian mirror for debootstrap.
//	IDLAB_NODE_IMAGE_PULL set to 0 to skip trying to pull kindest/node.
//	IDLAB_NODE_IMAGE      a node image to use when Docker has it (say, one
//	                      docker load put back from a CI cache).
//	IDLAB_KEEP_WORKDIR    set to 1 to keep the work dir after a success.
package nodeimage
