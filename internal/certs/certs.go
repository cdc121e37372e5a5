package certs

import (
	"container/list"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/idlab/idlab/internal/httplimit"
)

// Validity of certificates the CA issues; long enough for any lab run, short
// enough that a leaked lab CA is useless soon.
const (
	caValidity   = 30 * 24 * time.Hour
	leafValidity = 30 * 24 * time.Hour
)

// File names used by LoadOrCreate in a data directory.
const (
	CertFile = "ca.pem"
	KeyFile  = "ca-key.pem"
)

// CA is an in-memory certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// PEM is the CA certificate in PEM form: the bundle clients trust.
	PEM []byte
}

// NewCA creates a fresh ECDSA P-256 CA named commonName.
func NewCA(commonName string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"idlab"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-sign CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA: %w", err)
	}
	return &CA{Cert: cert, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// LoadOrCreate reads the CA kept in dir, or creates one there. The key file
// is written 0600. A CA that expires within a day is replaced.
func LoadOrCreate(dir, commonName string) (*CA, error) {
	certPEM, errC := os.ReadFile(filepath.Join(dir, CertFile))
	keyPEM, errK := os.ReadFile(filepath.Join(dir, KeyFile))
	if errC == nil && errK == nil {
		ca, err := Parse(certPEM, keyPEM)
		if err == nil && time.Until(ca.Cert.NotAfter) > 24*time.Hour {
			return ca, nil
		}
	} else if !errors.Is(errC, os.ErrNotExist) && errC != nil {
		return nil, fmt.Errorf("read CA: %w", errC)
	}
	ca, err := NewCA(commonName)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create CA dir: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, fmt.Errorf("marshal CA key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, fmt.Errorf("write CA key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, CertFile), ca.PEM, 0o644); err != nil {
		return nil, fmt.Errorf("write CA cert: %w", err)
	}
	return ca, nil
}

// Parse rebuilds a CA from its PEM certificate and PKCS#8 key.
func Parse(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return nil, errors.New("CA certificate: no PEM block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("CA key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("CA key: not a signing key")
	}
	return &CA{Cert: cert, Key: signer, PEM: pem.EncodeToMemory(cb)}, nil
}

// Issue returns a server certificate for hosts: DNS names (wildcards such as
// "*.s3.amazonaws.com" allowed) and IP addresses.
func (ca *CA) Issue(hosts ...string) (tls.Certificate, error) {
	if len(hosts) == 0 {
		return tls.Certificate{}, errors.New("issue certificate: no hosts")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate leaf key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"idlab"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("sign leaf for %v: %w", hosts, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse leaf: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// Pool returns a cert pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// ServerTLS returns a server TLS config presenting a certificate for hosts.
func (ca *CA) ServerTLS(hosts ...string) (*tls.Config, error) {
	c, err := ca.Issue(hosts...)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}, nil
}

// ClientTLS returns a client TLS config that trusts only this CA.
func (ca *CA) ClientTLS() *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
}

func randomSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	return s, nil
}

// maxCachedLeaves bounds DynamicServerTLS's certificate cache: about 7 KB
// a name, so some 7 MB, far more names than a lab answers (every cloud host
// name of every emulator), while a client inventing a fresh SNI name per
// connection cannot grow it.
const maxCachedLeaves = 1024

// DynamicServerTLS returns a server TLS config that issues (and caches) a
// certificate for whatever server name the client asks for, so one listener
// can answer every emulated cloud host name. Clients that send no SNI (plain
// IP addresses) get a certificate for fallbackHosts. The cache keeps the
// most recently used names; a name it dropped gets a fresh certificate.
func (ca *CA) DynamicServerTLS(fallbackHosts ...string) (*tls.Config, error) {
	return ca.dynamicServerTLS(newLeafCache(maxCachedLeaves), fallbackHosts...)
}

func (ca *CA) dynamicServerTLS(cache *leafCache, fallbackHosts ...string) (*tls.Config, error) {
	fallback, err := ca.Issue(fallbackHosts...)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Certificates also serves clients without SNI, and keeps
		// httptest.StartTLS from installing its own certificate.
		Certificates: []tls.Certificate{fallback},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
			if name == "" {
				return &fallback, nil
			}
			return cache.get(name, func() (tls.Certificate, error) { return ca.Issue(name) })
		},
	}, nil
}

// leafCache holds at most limit certificates by name, dropping the least
// recently used.
type leafCache struct {
	mu    sync.Mutex
	limit int
	order *list.List // of *leaf, most recently used first
	byKey map[string]*list.Element
}

type leaf struct {
	name string
	cert *tls.Certificate
}

func newLeafCache(limit int) *leafCache {
	return &leafCache{limit: limit, order: list.New(), byKey: map[string]*list.Element{}}
}

// get returns name's certificate, issuing it with issue when not cached.
func (c *leafCache) get(name string, issue func() (tls.Certificate, error)) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[name]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*leaf).cert, nil
	}
	cert, err := issue()
	if err != nil {
		return nil, err
	}
	c.byKey[name] = c.order.PushFront(&leaf{name: name, cert: &cert})
	if c.order.Len() > c.limit {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.byKey, oldest.Value.(*leaf).name)
	}
	return &cert, nil
}

// len is how many certificates the cache holds.
func (c *leafCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// StartServer serves h over HTTPS on 127.0.0.1:0 like httptest.NewTLSServer,
// with a certificate from ca for whatever name the client asks (SNI), so an
// emulator embedded in a test answers its cloud host names too. Client
// returns a client trusting ca.
func (ca *CA) StartServer(h http.Handler) (*httptest.Server, error) {
	tlsCfg, err := ca.DynamicServerTLS("127.0.0.1", "localhost")
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	srv := httptest.NewUnstartedServer(h)
	httplimit.Apply(srv.Config)
	srv.TLS = tlsCfg
	srv.StartTLS()
	return srv, nil
}

// Client is an HTTP client trusting only ca.
func (ca *CA) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientTLS()}}
}

// PinnedClient trusts only ca and dials addr whatever host a request names,
// the way a pod reaches an emulator through cluster DNS: an embedded
// emulator's client can then use real cloud host names
// (https://login.microsoftonline.com, https://sts.googleapis.com).
func (ca *CA) PinnedClient(addr string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: ca.ClientTLS(),
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2: true,
	}}
}
