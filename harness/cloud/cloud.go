package cloud

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awsiamapi"
	"github.com/idlab/idlab/emulators/awss3"
	"github.com/idlab/idlab/emulators/awssns"
	"github.com/idlab/idlab/emulators/awssts"
	"github.com/idlab/idlab/emulators/azurearm"
	"github.com/idlab/idlab/emulators/azureblob"
	"github.com/idlab/idlab/emulators/eksauth"
	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/emulators/gcs"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/clock"
	"github.com/idlab/idlab/internal/decisionlog"
	"github.com/idlab/idlab/internal/httplimit"
)

// Cloud is the composed emulator service.
type Cloud struct {
	cfg    Config
	log    *slog.Logger
	CA     *certs.CA
	Clock  *clock.Clock
	IAM    *awsiam.IAM
	IAMAPI *awsiamapi.Handler
	OIDC   *oidc.Handler
	STS    *awssts.Handler
	S3     *awss3.Handler
	SNS    *awssns.Handler
	EKS    *eksauth.Handler
	Google *gcpiam.Handler
	GCS    *gcs.Handler
	Entra  *entra.Handler
	Blob   *azureblob.Handler
	// ARM is Azure Resource Manager's tenant-level reads (az login).
	ARM    *azurearm.Handler
	router router
	// handlers are the built services' cloud-plane handlers.
	handlers map[Service]http.Handler
	imds     map[string]*imdsNode // node name -> its instance metadata

	// Decisions is the one decision log every emulator writes.
	Decisions *decisionlog.Log

	mu       sync.RWMutex
	listener net.Listener
	server   *http.Server
	admin    adminPlane
}

// New builds the lab CA and every registered service (services) from cfg,
// then seeds each from its fixtures: IAM, the OIDC issuers with their keys,
// S3 buckets and SNS topics, EKS Auth, Google, Cloud Storage, Entra and
// Blob; then the IAM admin of every account, whose keys go to
// DATA/iam/admin-credentials.
func New(cfg Config) (*Cloud, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("cloud: DataDir is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1"
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if err := cfg.checkAdmin(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !cfg.LogDecisions {
		log = slog.New(decisionlog.DropDecisions(log.Handler()))
	}
	ca, err := loadCA(cfg)
	if err != nil {
		return nil, fmt.Errorf("lab CA: %w", err)
	}
	c := &Cloud{cfg: cfg, log: log, CA: ca, Clock: clock.New(nil), handlers: map[Service]http.Handler{}, Decisions: &decisionlog.Log{}}
	c.router = router{isIssuer: c.isIssuer}
	if err := c.build(); err != nil {
		return nil, err
	}
	ctx := context.Background()
	for _, s := range services {
		if path := c.fixturePath(s.fixtures); s.load != nil && path != "" {
			if err := s.load(ctx, c, path); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range services {
		if s.seeded != nil {
			if err := s.seeded(c); err != nil {
				return nil, err
			}
		}
	}
	if err := c.newIMDS(); err != nil {
		return nil, err
	}
	return c, nil
}

// loadCA reads the CA from cfg.CADir, or keeps one in DataDir.
func loadCA(cfg Config) (*certs.CA, error) {
	if cfg.CADir == "" {
		return certs.LoadOrCreate(cfg.DataDir, "idlab lab CA")
	}
	certPEM, err := os.ReadFile(filepath.Join(cfg.CADir, certs.CertFile))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(cfg.CADir, certs.KeyFile))
	if err != nil {
		return nil, err
	}
	return certs.Parse(certPEM, keyPEM)
}

// build builds every service in the order of services, the aside ones
// beside the others (a later build waits for those it needs), then
// collects their handlers. It returns once no build runs.
func (c *Cloud) build() error {
	pending := map[Service]chan error{}
	wait := func(name Service) error {
		ch, ok := pending[name]
		if !ok {
			return nil
		}
		delete(pending, name)
		return <-ch
	}
	var err error
	for _, s := range services {
		for _, n := range s.needs {
			err = errors.Join(err, wait(n))
		}
		if err != nil {
			break
		}
		if s.aside {
			ch := make(chan error, 1)
			pending[s.name] = ch
			go func() { ch <- s.build(c) }()
			continue
		}
		if err = s.build(c); err != nil {
			break
		}
	}
	for name := range pending {
		err = errors.Join(err, wait(name))
	}
	if err != nil {
		return err
	}
	for _, s := range services {
		if s.handler != nil {
			c.handlers[s.name] = s.handler(c)
		}
	}
	return nil
}

// addIssuer hosts one issuer and publishes its keys.
func (c *Cloud) addIssuer(li LoadedIssuer) error {
	var opts []oidc.IssuerOption
	if li.JWKSPath != "" {
		opts = append(opts, oidc.WithJWKSPath(li.JWKSPath))
	}
	iss, err := c.OIDC.AddIssuer(li.URL, opts...)
	if err != nil {
		return fmt.Errorf("issuer %s: %w", li.URL, err)
	}
	for _, pub := range li.PublicKeys {
		if _, err := iss.AddPublicKey(pub); err != nil {
			return fmt.Errorf("issuer %s: %w", li.URL, err)
		}
	}
	return nil
}

// isIssuer reports whether host+path addresses a hosted issuer; the OIDC
// handler decides, by host and path, or by path alone on loopback.
func (c *Cloud) isIssuer(host, path string) bool {
	_, ok := c.OIDC.Match(host, path)
	return ok
}

// ServeHTTP routes a request to its emulator: the cloud plane, which
// serves cloud APIs only (AdminHandler is the admin API).
func (c *Cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := c.handlers[c.router.serviceFor(r)]; h != nil {
		h.ServeHTTP(w, r)
		return
	}
	c.log.Info("no emulator for request", "host", r.Host, "method", r.Method, "path", r.URL.Path)
	http.Error(w, fmt.Sprintf("idlab: no emulator answers host %q path %q", r.Host, r.URL.Path), http.StatusNotFound)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Start listens and serves HTTPS in the background.
func (c *Cloud) Start() error {
	tlsCfg, err := c.CA.DynamicServerTLS("127.0.0.1", "localhost", "::1")
	if err != nil {
		return fmt.Errorf("server certificate: %w", err)
	}
	addr := net.JoinHostPort(c.cfg.Listen, strconv.Itoa(c.cfg.HTTPSPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := httplimit.Apply(&http.Server{Handler: c, TLSConfig: tlsCfg, ErrorLog: slog.NewLogLogger(c.log.Handler(), slog.LevelDebug)})
	c.mu.Lock()
	c.listener, c.server = ln, srv
	c.mu.Unlock()
	go func() {
		if err := srv.Serve(tls.NewListener(ln, tlsCfg)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.log.Error("serve", "err", err)
		}
	}()
	if err := c.startIMDS(); err != nil {
		return err
	}
	if c.cfg.AdminListen == "" {
		return nil
	}
	return c.startAdmin()
}

// URL is https://ADDR of the running server.
func (c *Cloud) URL() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.listener == nil {
		return ""
	}
	return "https://" + c.listener.Addr().String()
}

// Client returns an HTTP client that trusts the lab CA and sends every
// request, whatever its host name, to this server: the view a pod has through
// cluster DNS.
func (c *Cloud) Client() *http.Client { return c.loopbackClient() }

// loopbackClient dials this server for any host. Until Start it fails.
func (c *Cloud) loopbackClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: c.CA.ClientTLS(),
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				c.mu.RLock()
				ln := c.listener
				c.mu.RUnlock()
				if ln == nil {
					return nil, errors.New("cloud: server not started")
				}
				return dialer.DialContext(ctx, network, loopbackAddr(ln.Addr()))
			},
		},
	}
}

// loopbackAddr turns a wildcard listen address into one we can dial.
func loopbackAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(tcp.Port))
}

// Close stops the server.
func (c *Cloud) Close(ctx context.Context) error {
	c.mu.RLock()
	srv := c.server
	c.mu.RUnlock()
	var err error
	if srv != nil {
		err = srv.Shutdown(ctx)
	}
	for _, s := range services {
		if s.close != nil {
			s.close(c)
		}
	}
	return errors.Join(err, c.closeIMDS(ctx), c.closeAdmin(ctx))
}

// Endpoints describes what the server offers, for `idlab serve` to print.
func (c *Cloud) Endpoints() map[string]string {
	u, admin := c.URL(), c.AdminAddr()+" (Authorization: Bearer <admin secret>)"
	if c.AdminAddr() == "" {
		admin = "none (AdminHandler in process)"
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	eps := map[string]string{
		"url":       u,
		"admin":     admin,
		"ca_bundle": filepath.Join(c.cfg.DataDir, certs.CertFile),
	}
	for _, s := range services {
		if s.endpoints == nil {
			continue
		}
		for k, v := range s.endpoints(c, u) {
			eps[k] = v
		}
	}
	return eps
}
