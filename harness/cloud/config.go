package cloud

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/idlab/idlab/internal/jwks"
)

// Config says what the emulator process serves. The zero value plus DataDir
// works: a CA is created there, no issuers, no IAM fixtures.
type Config struct {
	// DataDir holds the lab CA (ca.pem, ca-key.pem) and state that survives a
	// restart. Required.
	DataDir string
	// CADir, when set, holds the lab CA (ca.pem, ca-key.pem) made
	// elsewhere, read only: the emulator inside a cluster reads it from a
	// Secret. Defaults to DataDir, where a CA is created when absent.
	CADir string
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
	// JWKSFile is a key set (JWKS, JSON) whose keys are published beside
	// PublicKeyFiles', relative to the issuers file: the keys of an issuer
	// the lab trusts but does not sign for, such as an existing cluster's
	// read from its API server's /openid/v1/jwks. Parsed by jwks.Parse:
	// public RSA or EC signing keys only.
	JWKSFile string `yaml:"jwksFile,omitempty"`
	// JWKS is such a key set inline; at most one of JWKS and JWKSFile.
	JWKS string `yaml:"jwks,omitempty"`
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
		if err := ic.Validate(); err != nil {
			return nil, fmt.Errorf("%s: issuers[%d]: %w", path, i, err)
		}
		li := LoadedIssuer{IssuerConfig: ic}
		rel := func(p string) string {
			if filepath.IsAbs(p) {
				return p
			}
			return filepath.Join(filepath.Dir(path), p)
		}
		for _, kf := range ic.PublicKeyFiles {
			pub, err := readPublicKey(rel(kf))
			if err != nil {
				return nil, fmt.Errorf("%s: issuer %s: %w", path, ic.URL, err)
			}
			li.PublicKeys = append(li.PublicKeys, pub)
		}
		set := []byte(ic.JWKS)
		if ic.JWKSFile != "" {
			if set, err = readBounded(rel(ic.JWKSFile), jwks.MaxSize); err != nil {
				return nil, fmt.Errorf("%s: issuer %s: %w", path, ic.URL, err)
			}
		}
		if len(set) > 0 {
			keys, err := jwks.Parse(set)
			if err != nil {
				return nil, fmt.Errorf("%s: issuer %s: %w", path, ic.URL, err)
			}
			for _, k := range keys.Keys {
				li.PublicKeys = append(li.PublicKeys, k.Key)
			}
		}
		out = append(out, li)
	}
	return out, nil
}

// Validate checks what an issuer entry says on its own: an https issuer
// URL without query, fragment or user info, a JWKS path starting with /,
// and at most one of jwks and jwksFile. The keys are checked as they are
// read (LoadIssuers).
func (ic IssuerConfig) Validate() error {
	if ic.URL == "" {
		return errors.New("url is required")
	}
	u, err := url.Parse(ic.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("url %q: want https://host[/path] without query, fragment or user info", ic.URL)
	}
	if ic.JWKSPath != "" && !strings.HasPrefix(ic.JWKSPath, "/") {
		return fmt.Errorf("issuer %s: jwksPath %q: want a path starting with /", ic.URL, ic.JWKSPath)
	}
	if ic.JWKS != "" && ic.JWKSFile != "" {
		return fmt.Errorf("issuer %s: jwks and jwksFile both give its key set: give one", ic.URL)
	}
	for _, kf := range ic.PublicKeyFiles {
		if kf == "" {
			return fmt.Errorf("issuer %s: an empty publicKeyFiles entry", ic.URL)
		}
	}
	return nil
}

// readBounded reads a file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key set: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read key set: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("key set %s is larger than %d bytes", path, limit)
	}
	return raw, nil
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
