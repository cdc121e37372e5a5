// Package hostlocal reads and steers a node's CNI host-local IPAM, so a
// scenario can give the next pod on a node an address it chooses: a
// finished pod's IP, for the IP-reuse bugs of IP-keyed identity proxies
// (jtblin/kube2iam#215, uswitch/kiam#499).
//
// host-local (containernetworking/plugins plugins/ipam/host-local, read
// at commit 3d27709f; since v1.1.1, Debian bookworm's, which the offline
// node image runs, its allocator and disk store changed only in
// refactoring and file modes) keeps one
// file per reserved address and, per range set N of the network's
// ipam.ranges, the file last_reserved_ip.N holding the last address it
// handed out, in DATADIR/NETWORK (ipam.dataDir, default
// /var/lib/cni/networks; NETWORK is the configuration's name). It hands
// out addresses round-robin from the one after that (allocator.go
// GetIter and RangeIter.Next: past a range's end comes the next range's
// start, the gateway is skipped, a reserved address is passed over).
// Writing the address before A into last_reserved_ip.N, once A is free,
// makes A the next address the node hands out. Another pod created on the
// node first takes it instead: Steer's caller checks the pod it wanted at
// A got A.
//
// The configuration read is the one containerd uses: the first of the
// sorted .conf, .conflist and .json files in /etc/cni/net.d
// (containerd/go-cni opts.go loadFromConfDir, commit 5d1202a8): the lab's
// bridge (network idlab) and ptp (idlab-ptp) conflists, or kindnet's
// (network kindnet, dataDir /run/cni-ipam-state: kubernetes-sigs/kind
// images/kindnetd/cmd/kindnetd/cni.go, commit 26637e29).
package hostlocal
