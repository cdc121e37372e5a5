package labca

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// SystemRootsFile is where a Debian node keeps its roots (package
// ca-certificates, update-ca-certificates' output), the first file Go's
// crypto/x509 looks for on Linux (src/crypto/x509/root_linux.go).
const SystemRootsFile = "/etc/ssl/certs/ca-certificates.crt"

// Bundle is what BundleConfigMap holds.
type Bundle struct {
	// All is the system roots followed by the lab CA: BundleFile. Tools
	// that take one CA file use it instead of their roots, so it keeps
	// the public roots besides the lab's.
	All []byte
	// LabCA is the lab CA alone: LabCAFile.
	LabCA []byte
	// Roots counts the system roots in All.
	Roots int
}

// Assemble makes the bundle from a PEM file of system roots (empty for
// none) and the lab CA (PEM). Blocks of systemRoots that are not
// certificates, or do not parse, are left out, and so are repeats and the
// lab CA itself; the lab CA comes last, under a comment naming it.
func Assemble(systemRoots, labCA []byte) (Bundle, error) {
	ca, err := certificates(labCA)
	if err != nil {
		return Bundle{}, fmt.Errorf("lab CA: %w", err)
	}
	if len(ca) == 0 {
		return Bundle{}, errors.New("lab CA: no certificate in the PEM")
	}
	seen := map[string]bool{}
	var lab bytes.Buffer
	for _, c := range ca {
		seen[string(c.Raw)] = true
		_ = pem.Encode(&lab, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	var all bytes.Buffer
	n := 0
	rest := systemRoots
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" || seen[string(block.Bytes)] {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			continue
		}
		seen[string(block.Bytes)] = true
		_ = pem.Encode(&all, &pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes})
		n++
	}
	all.WriteString("# idlab lab CA\n")
	all.Write(lab.Bytes())
	return Bundle{All: all.Bytes(), LabCA: lab.Bytes(), Roots: n}, nil
}

// certificates parses every CERTIFICATE block of a PEM file.
func certificates(raw []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, raw = pem.Decode(raw)
		if block == nil {
			return out, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

// Data is the bundle as BundleConfigMap's data.
func (b Bundle) Data() map[string]string {
	return map[string]string{BundleFile: string(b.All), LabCAFile: string(b.LabCA)}
}

// Hash is a short digest of the bundle, for a pod annotation that restarts
// the webhook when the bundle changes.
func (b Bundle) Hash() string {
	h := sha256.New()
	h.Write(b.All)
	h.Write([]byte{0})
	h.Write(b.LabCA)
	return hex.EncodeToString(h.Sum(nil)[:8])
}
