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
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awss3"
	"github.com/idlab/idlab/emulators/awssns"
	"github.com/idlab/idlab/emulators/awssts"
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
	OIDC   *oidc.Handler
	STS    *awssts.Handler
	S3     *awss3.Handler
	SNS    *awssns.Handler
	EKS    *eksauth.Handler
	Google *gcpiam.Handler
	GCS    *gcs.Handler
	Entra  *entra.Handler
	Blob   *azureblob.Handler
	router router
	imds   map[string]*imdsNode // node name -> its instance metadata

	// Decisions is the one decision log every emulator writes.
	Decisions *decisionlog.Log

	mu       sync.RWMutex
	listener net.Listener
	server   *http.Server
	admin    adminPlane
}

// New builds the emulators from cfg: the lab CA, the IAM store with its
// fixtures, the OIDC issuers with their keys, STS, and S3 and SNS with the
// buckets and topics the fixtures declare.
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
	ca, err := certs.LoadOrCreate(cfg.DataDir, "idlab lab CA")
	if err != nil {
		return nil, fmt.Errorf("lab CA: %w", err)
	}
	c := &Cloud{cfg: cfg, log: log, CA: ca, Clock: clock.New(nil), Decisions: &decisionlog.Log{}}
	c.router = router{isIssuer: c.isIssuer}

	c.IAM, err = awsiam.New(awsiam.Options{Now: c.Clock.Now, Logger: log.With("emulator", "iam"), Decisions: c.Decisions, DataDir: filepath.Join(cfg.DataDir, "iam")})
	if err != nil {
		return nil, fmt.Errorf("iam: %w", err)
	}
	if cfg.FixturesDir != "" {
		if err := c.IAM.LoadFixtures(cfg.FixturesDir); err != nil {
			return nil, fmt.Errorf("iam fixtures: %w", err)
		}
	}
	c.OIDC, err = oidc.New(oidc.Options{CA: ca, Now: c.Clock.Now, Logger: log.With("emulator", "oidc")})
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	if cfg.IssuersFile != "" {
		issuers, err := LoadIssuers(cfg.IssuersFile)
		if err != nil {
			return nil, err
		}
		for _, li := range issuers {
			if err := c.addIssuer(li); err != nil {
				return nil, err
			}
		}
	}
	c.STS, err = awssts.New(awssts.Options{
		IAM:        c.IAM,
		Now:        c.Clock.Now,
		Logger:     log.With("emulator", "sts"),
		HTTPClient: c.loopbackClient(),
		Region:     cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("sts: %w", err)
	}
	c.S3, err = awss3.New(awss3.Options{IAM: c.IAM, Now: c.Clock.Now, Logger: log.With("emulator", "s3"), DataDir: filepath.Join(cfg.DataDir, "s3"), Region: cfg.Region})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	c.SNS, err = awssns.New(awssns.Options{IAM: c.IAM, Now: c.Clock.Now, Logger: log.With("emulator", "sns"), DataDir: filepath.Join(cfg.DataDir, "sns"), Region: cfg.Region})
	if err != nil {
		return nil, fmt.Errorf("sns: %w", err)
	}
	if cfg.FixturesDir != "" {
		if err := c.seed(context.Background(), cfg.FixturesDir); err != nil {
			return nil, err
		}
	}
	if err := c.newOtherClouds(); err != nil {
		return nil, err
	}
	if err := c.newIMDS(); err != nil {
		return nil, err
	}
	return c, nil
}

// newOtherClouds builds EKS Auth, Google's identity plane with Cloud
// Storage, and Entra, each with its fixtures. Issuer discovery goes through
// loopbackClient, so tokens of the lab's own issuers verify.
func (c *Cloud) newOtherClouds() error {
	cfg, log := c.cfg, c.log
	var err error
	c.EKS, err = eksauth.New(eksauth.Options{IAM: c.IAM, Now: c.Clock.Now, Logger: log.With("emulator", "eks-auth"),
		HTTPClient: c.loopbackClient(), Region: cfg.Region, DataDir: filepath.Join(cfg.DataDir, "eksauth")})
	if err != nil {
		return fmt.Errorf("eks auth: %w", err)
	}
	c.Google, err = gcpiam.New(gcpiam.Options{Now: c.Clock.Now, Logger: log.With("emulator", "gcpiam"), Decisions: c.Decisions,
		DataDir: filepath.Join(cfg.DataDir, "gcpiam"), HTTPClient: c.loopbackClient()})
	if err != nil {
		return fmt.Errorf("google iam: %w", err)
	}
	c.GCS, err = gcs.New(gcs.Options{IAM: c.Google, Now: c.Clock.Now, Logger: log.With("emulator", "gcs"),
		DataDir: filepath.Join(cfg.DataDir, "gcs")})
	if err != nil {
		return fmt.Errorf("cloud storage: %w", err)
	}
	c.Entra, err = entra.New(entra.Options{Now: c.Clock.Now, Logger: log.With("emulator", "entra"), Decisions: c.Decisions,
		DataDir: filepath.Join(cfg.DataDir, "entra"), HTTPClient: c.loopbackClient()})
	if err != nil {
		return fmt.Errorf("entra: %w", err)
	}
	c.Blob, err = azureblob.New(azureblob.Options{Tokens: c.Entra, Now: c.Clock.Now, Logger: log.With("emulator", "azureblob"), Decisions: c.Decisions,
		DataDir: filepath.Join(cfg.DataDir, "azureblob")})
	if err != nil {
		return fmt.Errorf("azure blob: %w", err)
	}
	if cfg.EKSFixtures != "" {
		if err := c.EKS.LoadFixtures(cfg.EKSFixtures); err != nil {
			return fmt.Errorf("eks auth fixtures: %w", err)
		}
	}
	if cfg.AzureFixtures != "" {
		if err := c.Entra.LoadFixtures(cfg.AzureFixtures); err != nil {
			return fmt.Errorf("entra fixtures: %w", err)
		}
		if err := c.Blob.LoadFixtures(cfg.AzureFixtures); err != nil {
			return fmt.Errorf("azure blob fixtures: %w", err)
		}
	}
	if cfg.GCPFixtures != "" {
		if err := c.Google.LoadFixtures(cfg.GCPFixtures); err != nil {
			return fmt.Errorf("google fixtures: %w", err)
		}
		buckets, err := LoadGCSBuckets(cfg.GCPFixtures)
		if err != nil {
			return err
		}
		ctx := context.Background()
		for _, b := range buckets {
			if err := c.GCS.CreateBucket(ctx, b.Project, b.Name); err != nil {
				return fmt.Errorf("fixture bucket gs://%s: %w", b.Name, err)
			}
			for name, text := range b.Objects {
				if err := c.GCS.PutObject(ctx, b.Name, name, []byte(text), "text/plain"); err != nil {
					return fmt.Errorf("fixture object gs://%s/%s: %w", b.Name, name, err)
				}
			}
		}
	}
	return nil
}

// seed creates the buckets, objects and topics the fixtures declare. It is
// idempotent, so a restart over the same DataDir keeps what clients wrote.
func (c *Cloud) seed(ctx context.Context, fixtures string) error {
	res, err := LoadResources(fixtures, c.cfg.Region)
	if err != nil {
		return err
	}
	for _, b := range res.Buckets {
		if err := c.S3.CreateBucket(ctx, awss3.BucketSpec{Name: b.Name, Owner: b.Account, Region: b.Region, Policy: b.Policy}); err != nil {
			return fmt.Errorf("fixture bucket %s: %w", b.Name, err)
		}
		for key, text := range b.Objects {
			if err := c.S3.PutObject(ctx, b.Name, key, []byte(text), "text/plain"); err != nil {
				return fmt.Errorf("fixture object s3://%s/%s: %w", b.Name, key, err)
			}
		}
	}
	for _, t := range res.Topics {
		if _, err := c.SNS.CreateTopic(ctx, t.Account, t.Region, t.Name, t.Policy); err != nil {
			return fmt.Errorf("fixture topic %s: %w", t.Name, err)
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
	switch c.router.serviceFor(r) {
	case ServiceOIDC:
		c.OIDC.ServeHTTP(w, r)
	case ServiceSTS:
		c.STS.ServeHTTP(w, r)
	case ServiceS3:
		c.S3.ServeHTTP(w, r)
	case ServiceSNS:
		c.SNS.ServeHTTP(w, r)
	case ServiceEKSAuth:
		c.EKS.ServeHTTP(w, r)
	case ServiceGoogleIAM:
		c.Google.ServeHTTP(w, r)
	case ServiceGCS:
		c.GCS.ServeHTTP(w, r)
	case ServiceEntra:
		c.Entra.ServeHTTP(w, r)
	case ServiceAzureBlob:
		c.Blob.ServeHTTP(w, r)
	default:
		c.log.Info("no emulator for request", "host", r.Host, "method", r.Method, "path", r.URL.Path)
		http.Error(w, fmt.Sprintf("idlab: no emulator answers host %q path %q", r.Host, r.URL.Path), http.StatusNotFound)
	}
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
	c.SNS.Close() // stops pending HTTP deliveries
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
		"sts":       u + " (AWS_ENDPOINT_URL_STS), or https://sts.amazonaws.com and https://sts." + c.cfg.Region + ".amazonaws.com through lab DNS",
		"s3":        u + " (AWS_ENDPOINT_URL_S3, path-style), or https://s3." + c.cfg.Region + ".amazonaws.com and BUCKET.s3.REGION.amazonaws.com through lab DNS",
		"sns":       u + " (AWS_ENDPOINT_URL_SNS), or https://sns." + c.cfg.Region + ".amazonaws.com through lab DNS",
		"eks-auth":  "https://eks-auth." + c.cfg.Region + ".api.aws through lab DNS",
		"google":    "https://accounts.google.com, https://{sts,iamcredentials,oauth2,www}.googleapis.com and https://storage.googleapis.com through lab DNS",
		"entra":     "https://login.microsoftonline.com through lab DNS",
		"azureblob": "https://ACCOUNT.blob.core.windows.net through lab DNS",
		"admin":     admin,
		"ca_bundle": filepath.Join(c.cfg.DataDir, certs.CertFile),
	}
	for i, iss := range c.OIDC.Issuers() {
		eps["issuer."+strconv.Itoa(i)] = iss.URL()
	}
	return eps
}
