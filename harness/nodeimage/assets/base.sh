#!/usr/bin/env bash
# base.sh turns a debootstrapped Debian rootfs into the idlab kind base image:
# kind's images/base/files, systemd trimmed the way kind's base image does, CNI
# plugins where kind expects them, containerd adapted to Debian's containerd
# 1.6 and to hosts without CAP_SYS_RESOURCE; then imports it into Docker.
# Run by harness/nodeimage as root with:
#   ROOTFS      the debootstrapped rootfs (modified in place)
#   KIND_FILES  kind's images/base/files (from the sigs.k8s.io/kind module)
#   BASE_IMAGE  the Docker image name to import as
#   DOCKER      the docker CLI
set -o errexit -o nounset -o pipefail
R=${ROOTFS:?} K=${KIND_FILES:?}

install -m0755 "$K"/usr/local/bin/* "$R/usr/local/bin/"
mkdir -p "$R/kind/bin" "$R/LICENSES" "$R/etc/containerd" "$R/etc/systemd/system/kubelet.service.d" \
  "$R/etc/kubernetes/manifests" "$R/opt/cni/bin" "$R/etc/cni/net.d"
install -m0644 "$K/kind/README.txt" "$R/kind/"
install -m0755 "$K"/kind/bin/* "$R/kind/bin/"
chmod 0755 "$R/kind" "$R/kind/bin"
install -m0644 "$K"/LICENSES/* "$R/LICENSES/"
install -m0644 "$K/etc/crictl.yaml" "$R/etc/"
install -m0644 "$K"/etc/containerd/* "$R/etc/containerd/"
install -m0644 "$K"/etc/default/* "$R/etc/default/"
install -m0644 "$K"/etc/sysctl.d/* "$R/etc/sysctl.d/"
install -m0644 "$K"/etc/systemd/system/*.service "$K"/etc/systemd/system/*.slice "$R/etc/systemd/system/"
install -m0644 "$K"/etc/systemd/system/kubelet.service.d/* "$R/etc/systemd/system/kubelet.service.d/"

# systemd in a container: as kind's base image Dockerfile trims it.
find "$R/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
rm -f "$R"/lib/systemd/system/multi-user.target.wants/* "$R"/etc/systemd/system/*.wants/* \
  "$R"/lib/systemd/system/local-fs.target.wants/* "$R"/lib/systemd/system/sockets.target.wants/*udev* \
  "$R"/lib/systemd/system/sockets.target.wants/*initctl* "$R"/lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >>"$R/etc/systemd/journald.conf"

# Debian's containerd lives in /usr/bin; kind's units and scripts use /usr/local/bin.
for b in containerd ctr containerd-shim-runc-v2; do ln -sf "/usr/bin/$b" "$R/usr/local/bin/$b"; done
for p in host-local loopback ptp portmap bridge; do cp "$R/usr/lib/cni/$p" "$R/opt/cni/bin/"; done

chroot "$R" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
chroot "$R" systemctl mask systemd-binfmt.service >/dev/null 2>&1
chroot "$R" sh -c 'ctr oci spec | jq ".hooks.createContainer[.hooks.createContainer | length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" | jq "del(.process.rlimits)" > /etc/containerd/cri-base.json'
[ -s "$R/etc/containerd/cri-base.json" ] || { echo "cri-base.json is empty" >&2; exit 1; }

# containerd: clamp oom_score_adj instead of failing where the host lacks
# CAP_SYS_RESOURCE. (The sandbox image is set per node image: it depends on
# the Kubernetes release.)
sed -i "s/restrict_oom_score_adj = false/restrict_oom_score_adj = true/" "$R/etc/containerd/config.toml"
grep -q "restrict_oom_score_adj = true" "$R/etc/containerd/config.toml"

rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R"/var/log/*.log
tar -C "$R" -c . | "${DOCKER:-docker}" import \
  --change 'ENV container=docker' \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
  - "${BASE_IMAGE:?}"
