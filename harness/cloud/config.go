package cloud

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Config says what the emulator process serves. The zero value plus DataDir
// works: a CA is created there, no issuers, no IAM fixtures.
type Config struct {
	// DataDir holds the lab CA (ca.pem, ca-key.pem) and state that survives a
	// restart. Required.
	DataDir string
	// FixturesDir holds AWS fixtures (YAML: IAM, buckets, topics); empty
	// means none.
	FixturesDir string
	// GCPFixtures holds Google fixtures (projects, service accounts, pools,
	// bindings, GCS buckets); EKSFixtures EKS Auth clusters and pod identity
	// associations; AzureFixtures Entra tenants and apps. A file or a
	// directory each; empty means none.
	GCPFixtures   string
	EKSFixtures   string
	AzureFixtures string
	// IssuersFile lists OIDC issuers and their public keys (see IssuersFile).
	IssuersFile string
	// Listen is the address to listen on. Defaults to 127.0.0.1: the lab never
	// listens beyond loopback on the host; inside its container it listens on
	// the container's own interfaces.
	Listen string
	// HTTPSPort is the port; 0 picks a free one.
	HTTPSPort int
	// Region is the default AWS region. Defaults to us-east-1.
	Region string
	// IMDS are the EC2 instance metadata services of the lab's nodes, each
	// on its own plain-HTTP ports (see IMDSConfig).
	IMDS []IMDSConfig
	// AdminListen is where the admin API (AdminHandler) listens: "unix:PATH"
	// or a loopback "IP:PORT" (ParseAdminListen), never the cloud
	// listener. Empty: no admin listener; the admin API is then reachable
	// in process only.
	AdminListen string
	// AdminSecret is the bearer token every admin request must carry
	// (LoadOrCreateAdminSecret). Required with AdminListen.
	AdminSecret string
	// Logger receives request logs and errors. Defaults to discard.
	Logger *slog.Logger
	// LogDecisions also sends Logger one line per allow/deny decision
	// (every record with a "decision" attribute). Off by default: the
	// decision log of the admin API holds them, and a line each costs
	// more than the decision at a few thousand requests a second.
	LogDecisions bool
	// Fsync makes every emulator's writes under DataDir durable against
	// power loss: files and directories fsynced, as well as written to a
	// temporary file and renamed. Off by default: rename alone loses
	// nothing when the process is killed, which is a lab's threat.
	Fsync bool
}

// checkAdmin validates the admin listener settings.
func (c Config) checkAdmin() error {
	if c.AdminListen == "" {
		return nil
	}
	if _, _, err := ParseAdminListen(c.AdminListen); err != nil {
		return fmt.Errorf("cloud: %w", err)
	}
	if c.AdminSecret == "" {
		return errors.New("cloud: AdminSecret is required with AdminListen")
	}
	return nil
}

// IssuersFile is the YAML document behind Config.IssuersFile.
type IssuersFile struct {
	Issuers []IssuerConfig `yaml:"issuers"`
}

// IssuerConfig is one OIDC issuer the lab hosts, e.g. a cluster's
// service-account issuer.
type IssuerConfig struct {
	// URL is the issuer, e.g. https://oidc.eks.us-west-2.amazonaws.com/id/ABC.
	URL string `yaml:"url"`
	// PublicKeyFiles are PEM public keys (PKIX) published in the JWKS,
	// relative to the issuers file. Several keys are published at once during
	// signing-key rotation.
	PublicKeyFiles []string `yaml:"publicKeyFiles"`
	// JWKSPath overrides where the JWKS is served, relative to the issuer.
	JWKSPath string `yaml:"jwksPath,omitempty"`
	// AWSAccount registers an IAM OIDC provider for the issuer in this
	// account (client ID sts.amazonaws.com), as `eksctl utils
	// associate-iam-oidc-provider` does for an EKS cluster, unless the IAM
	// fixtures register one already (theirs wins). Empty: none.
	AWSAccount string `yaml:"awsAccount,omitempty"`
}

// LoadIssuers reads an issuers file and the public keys it names.
func LoadIssuers(path string) ([]LoadedIssuer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read issuers file: %w", err)
	}
	var f IssuersFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse issuers file %s: %w", path, err)
	}
	var out []LoadedIssuer
	for i, ic := range f.Issuers {
		if ic.URL == "" {
			return nil, fmt.Errorf("%s: issuers[%d]: url is required", path, i)
		}
		li := LoadedIssuer{IssuerConfig: ic}
		for _, kf := range ic.PublicKeyFiles {
			if !filepath.IsAbs(kf) {
				kf = filepath.Join(filepath.Dir(path), kf)
			}
			pub, err := readPublicKey(kf)
			if err != nil {
				return nil, fmt.Errorf("%s: issuer %s: %w", path, ic.URL, err)
			}
			li.PublicKeys = append(li.PublicKeys, pub)
		}
		out = append(out, li)
	}
	return out, nil
}

// LoadedIssuer is an issuer with its keys read.
type LoadedIssuer struct {
	IssuerConfig
	PublicKeys []crypto.PublicKey
}

// WriteIssuers writes an issuers file (used by the lab for `idlab serve`).
func WriteIssuers(path string, f IssuersFile) error {
	raw, err := yaml.Marshal(f)
	if err != nil {
		return fmt.Errorf("marshal issuers: %w", err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return fmt.Errorf("write issuers file: %w", err)
	}
	return nil
}

func readPublicKey(path string) (crypto.PublicKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("public key %s: no PEM block", path)
	}
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	}
	return nil, errors.New("public key " + path + ": unsupported PEM type " + block.Type)
}
