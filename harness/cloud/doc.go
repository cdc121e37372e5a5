// Package cloud composes the lab's emulators into one HTTPS service: the
// process `idlab serve` runs. Requests are routed to an emulator by the real
// cloud host name they address (sts.us-west-2.amazonaws.com, the OIDC issuer
// hosts, ...) as they arrive from pods through cluster DNS, or, for requests
// to a loopback address from the host, by the service named in the SigV4
// credential scope, the issuer path, or the STS action. That listener is
// the cloud plane: cloud APIs only, whatever the path.
//
// The admin API (AdminHandler: fixtures, clock, keys, decisions) is the
// control plane, on a listener of its own (Config.AdminListen: a Unix
// socket or a loopback port) behind a per-lab bearer secret, so a workload
// under test cannot change the lab that judges it.
//
// One adjustable clock, one lab CA and one IAM store are shared by every
// emulator, so credentials STS issues are accepted everywhere and moving the
// clock expires them everywhere.
package cloud
