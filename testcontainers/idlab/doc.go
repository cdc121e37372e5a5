// Package idlab is a testcontainers-go module that runs idlab's cloud
// emulators (`idlab serve`) in a Docker container for a test.
//
// Run starts the emulator image (built locally: `make image`, or
// BuildImage, from the Dockerfile beside this file, FROM scratch with the
// static idlab binary) with the fixtures mounted, waits until the admin
// API answers its health check, and returns a Container: the cloud plane's
// URL on 127.0.0.1, the lab CA that signs its certificates, an HTTP
// client reaching every cloud host name, the admin API (issuers, token
// minting, the decision log) and aws-sdk-go-v2 configs, as package
// idlabtest offers them in process.
//
// The container is on a Docker network of its own, and its cloud port is
// published on 127.0.0.1 only. The admin API is never
// on a network: it listens on a Unix socket in a directory of this
// machine mounted into the container, behind a secret made before the
// container starts, so the Docker daemon must run on this machine (a
// local Linux daemon, rootful). The container runs as the calling user, so
// everything it writes there is the caller's to remove (Terminate does).
//
// No registry is needed: the image is local, and testcontainers' Ryuk
// reaper (an image it pulls) should be off where none is reachable
// (TESTCONTAINERS_RYUK_DISABLED=true); Terminate, or
// testcontainers.CleanupContainer, removes the container.
package idlab
