// Package certs is the lab's tiny certificate authority: it makes a CA at run
// time and issues TLS server certificates for the host names the emulators
// answer (real cloud host names inside clusters, 127.0.0.1 on the host), so
// unmodified SDKs can talk HTTPS to them by trusting one PEM bundle.
package certs
