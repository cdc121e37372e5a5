// Package labca is a lab-only mutating webhook that makes unmodified
// workloads trust the lab CA. It stands for no cloud component: on a real
// cluster the clouds' certificates chain to public roots, and nothing
// needs to be injected; in the lab, the emulator's certificates chain to
// the lab CA, made at run time.
//
// A pod created in a namespace labelled idlab.dev/lab-ca=enabled
// (NamespaceLabel, NamespaceEnabled) gets, in every container and init
// container:
//
//   - the ConfigMap BundleConfigMap mounted read-only at MountDir, holding
//     BundleFile (the system roots of the cluster's node image followed by
//     the lab CA) and LabCAFile (the lab CA alone);
//   - the variables the major SDKs and tools read for their trust store,
//     each pointing at one of those files (Variables lists them with their
//     readers) — a variable the container sets already is left as it is.
//
// The mount is a ConfigMap in the pod's own namespace, which a pod volume
// can only name: the webhook's process also runs Publisher, which writes
// that ConfigMap into every labelled namespace and keeps it current. A pod
// admitted before it is written waits in ContainerCreating until it is
// (a ConfigMap volume that is not optional blocks the start).
//
// A pod labelled labca.idlab.dev/skip (SkipLabel) is left alone, and so are
// the webhook's own pods. The webhook fails open (failurePolicy Ignore):
// when it is down, pods start without the lab CA and their TLS calls to the
// emulator fail with certificate errors, which is what an unlabelled
// namespace shows on purpose.
package labca
