package idlab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// DefaultImage is the tag `make image` gives the emulator image.
const DefaultImage = "idlab/emulator:latest"

// DefaultRegion is the AWS region the emulator runs with unless WithRegion
// names another: the lab's, as in package idlabtest.
const DefaultRegion = "us-west-2"

// Where things are inside the container.
const (
	// cloudPort is the cloud plane's port in the container.
	cloudPort = "8443/tcp"
	// dataMount is the host directory Run makes, mounted read-write: the
	// emulator's state and CA under serve/, the admin socket and secret.
	dataMount   = "/data"
	adminSocket = "admin.sock"
	adminSecret = "admin.secret"
	// fixturesMount is where fixtures are mounted read-only, one entry
	// per cloud (fixtures/aws ...).
	fixturesMount = "/fixtures"
)

// Container is a running emulator.
type Container struct {
	*testcontainers.DockerContainer
	// network is the Docker network of its own the container is on.
	network *testcontainers.DockerNetwork
	dir     string // the host directory mounted at /data
	url     string
	caPEM   []byte
	region  string
	secret  string
}

// settings are what the module's own options set.
type settings struct {
	fixtures map[string]string // cloud (fixtureKinds) -> host path
	issuers  []string
	region   string
}

// fixtureKinds are the fixture sets serve reads, by mount name, with the
// serve flag that names each.
var fixtureKinds = []struct{ name, flag string }{
	{"aws", "--fixtures"},
	{"gcp", "--gcp-fixtures"},
	{"eks", "--eks-fixtures"},
	{"azure", "--azure-fixtures"},
}

// Option is a setting of this module; it passes through testcontainers'
// customizers untouched, so both kinds mix in one Run call.
type Option func(*settings) error

// Customize implements testcontainers.ContainerCustomizer; Run applies
// Options itself.
func (Option) Customize(*testcontainers.GenericContainerRequest) error { return nil }

func withFixtures(kind, path string) Option {
	return func(s *settings) error {
		abs, err := filepath.Abs(path)
		if err != nil {
			return fmt.Errorf("%s fixtures: %w", kind, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("%s fixtures: %w", kind, err)
		}
		s.fixtures[kind] = abs
		return nil
	}
}

// WithAWSFixtures mounts AWS fixtures (IAM accounts, roles, OIDC
// providers, buckets, topics: a YAML file or a directory of them).
func WithAWSFixtures(path string) Option { return withFixtures("aws", path) }

// WithGCPFixtures mounts Google fixtures (projects, service accounts,
// pools, bindings, Cloud Storage buckets).
func WithGCPFixtures(path string) Option { return withFixtures("gcp", path) }

// WithEKSFixtures mounts EKS Auth fixtures (clusters, pod identity
// associations).
func WithEKSFixtures(path string) Option { return withFixtures("eks", path) }

// WithAzureFixtures mounts Entra and Blob fixtures (tenants, apps,
// federated credentials, storage accounts).
func WithAzureFixtures(path string) Option { return withFixtures("azure", path) }

// WithIssuers hosts OIDC issuers (cluster service-account issuers such as
// https://oidc.eks.us-west-2.amazonaws.com/id/ID), each with a signing key
// the emulator keeps, so Token can mint their tokens.
func WithIssuers(urls ...string) Option {
	return func(s *settings) error {
		s.issuers = append(s.issuers, urls...)
		return nil
	}
}

// WithRegion sets the emulator's AWS region. Defaults to DefaultRegion.
func WithRegion(region string) Option {
	return func(s *settings) error {
		if region == "" {
			return errors.New("region: empty")
		}
		s.region = region
		return nil
	}
}

// Run starts the emulator image img (DefaultImage, or what BuildImage
// built), waits for its admin API's health check and hosts the issuers of
// WithIssuers. Options are this package's and testcontainers' own,
// applied after the module's defaults so the caller's win. On error the
// returned Container, when not nil, still holds what was started: pass it
// to testcontainers.CleanupContainer before checking the error.
func Run(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (*Container, error) {
	s := settings{fixtures: map[string]string{}, region: DefaultRegion}
	for _, o := range opts {
		if o, ok := o.(Option); ok {
			if err := o(&s); err != nil {
				return nil, fmt.Errorf("idlab: %w", err)
			}
		}
	}
	dir, err := os.MkdirTemp("", "idlab-tc-")
	if err != nil {
		return nil, fmt.Errorf("idlab: %w", err)
	}
	c := &Container{dir: dir, region: s.region}
	if c.secret, err = createSecret(filepath.Join(dir, adminSecret)); err != nil {
		return nil, errors.Join(fmt.Errorf("idlab: %w", err), c.Terminate(ctx))
	}
	// A network of its own: no other container shares it unless the
	// caller attaches one.
	if c.network, err = tcnetwork.New(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("idlab: network: %w", err), c.Terminate(ctx))
	}
	req := testcontainers.GenericContainerRequest{Started: true, ContainerRequest: testcontainers.ContainerRequest{Image: img}}
	for _, o := range append(defaults(s, dir, c.admin(), c.network), opts...) {
		if err := o.Customize(&req); err != nil {
			return nil, errors.Join(fmt.Errorf("idlab: customize: %w", err), c.Terminate(ctx))
		}
	}
	ctr, err := testcontainers.GenericContainer(ctx, req)
	if dc, ok := ctr.(*testcontainers.DockerContainer); ok {
		c.DockerContainer = dc
	}
	if err != nil {
		return c, fmt.Errorf("idlab: run %s: %w", img, err)
	}
	if err := c.started(ctx, s.issuers); err != nil {
		return c, fmt.Errorf("idlab: %s: %w", img, err)
	}
	return c, nil
}

// started reads what the running container offers: its URL and CA, then
// hosts the issuers.
func (c *Container) started(ctx context.Context, issuers []string) error {
	port, err := c.MappedPort(ctx, cloudPort)
	if err != nil {
		return fmt.Errorf("cloud port: %w", err)
	}
	c.url = "https://" + net.JoinHostPort("127.0.0.1", port.Port())
	if c.caPEM, err = readCA(filepath.Join(c.dir, "serve", "ca.pem")); err != nil {
		return err
	}
	for _, u := range issuers {
		if err := c.AddIssuer(ctx, u); err != nil {
			return err
		}
	}
	return nil
}

// defaults are the module's customizers: the serve command line, the
// mounts, the loopback-only port, the caller's user, the health wait and,
// when nw is not nil, the network nw only.
func defaults(s settings, dir string, admin *adminClient, nw *testcontainers.DockerNetwork) []testcontainers.ContainerCustomizer {
	binds := []string{dir + ":" + dataMount}
	for _, k := range fixtureKinds {
		if p, ok := s.fixtures[k.name]; ok {
			binds = append(binds, p+":"+fixturesMount+"/"+k.name+":ro")
		}
	}
	port := network.MustParsePort(cloudPort)
	var own []testcontainers.ContainerCustomizer
	if nw != nil {
		own = append(own, tcnetwork.WithNetwork(nil, nw))
	}
	return append(own,
		testcontainers.WithExposedPorts(cloudPort),
		testcontainers.WithCmd(serveArgs(s)...),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.Binds = append(hc.Binds, binds...)
			if hc.PortBindings == nil {
				hc.PortBindings = network.PortMap{}
			}
			// Loopback only: nothing beyond this machine reaches the cloud
			// plane; the port is Docker's pick.
			hc.PortBindings[port] = []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1")}}
		}),
		testcontainers.WithConfigModifier(func(cfg *container.Config) {
			// The caller's user: the files under dir stay theirs.
			cfg.User = strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid())
		}),
		testcontainers.WithWaitStrategy(healthy{admin: admin, timeout: time.Minute}),
	)
}

// serveArgs is the container's command: `idlab serve` on all of the
// container's addresses (Docker publishes the port on 127.0.0.1), its data
// and admin API in the mounted directory, decisions logged.
func serveArgs(s settings) []string {
	args := []string{"serve", "--listen", "0.0.0.0", "--https-port", network.MustParsePort(cloudPort).Port(),
		"--data-dir", dataMount + "/serve", "--region", s.region,
		"--admin-listen", "unix:" + dataMount + "/" + adminSocket, "--admin-secret-file", dataMount + "/" + adminSecret,
		"--log-decisions"}
	for _, k := range fixtureKinds {
		if _, ok := s.fixtures[k.name]; ok {
			args = append(args, k.flag, fixturesMount+"/"+k.name)
		}
	}
	return args
}

// readCA reads the CA certificate the emulator made in its data dir.
func readCA(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lab CA: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("lab CA %s: no PEM certificate", path)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return nil, fmt.Errorf("lab CA %s: %w", path, err)
	}
	return raw, nil
}

// URL is the cloud plane on the host: https://127.0.0.1:PORT. Every
// emulated service answers there, addressed by its real host name (Client)
// or by this URL as an explicit endpoint (AWS_ENDPOINT_URL).
func (c *Container) URL() string { return c.url }

// CACertPEM is the lab CA that signs the emulator's certificates.
func (c *Container) CACertPEM() []byte { return c.caPEM }

// CAFile is the CA certificate's file on the host, for AWS_CA_BUNDLE,
// SSL_CERT_FILE and REQUESTS_CA_BUNDLE.
func (c *Container) CAFile() string { return filepath.Join(c.dir, "serve", "ca.pem") }

// Region is the emulator's AWS region.
func (c *Container) Region() string { return c.region }

// Env is the environment that points an unmodified AWS SDK or CLI at the
// emulator: the endpoint, the CA bundle, the region.
func (c *Container) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL": c.url, "AWS_REGION": c.region,
		"AWS_CA_BUNDLE": c.CAFile(), "SSL_CERT_FILE": c.CAFile(), "REQUESTS_CA_BUNDLE": c.CAFile(),
	}
}

// Client trusts the lab CA and sends every request, whatever cloud host
// name it addresses (sts.us-west-2.amazonaws.com,
// storage.googleapis.com ...), to the emulator, as cluster DNS does for a
// pod.
func (c *Container) Client() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	d := &net.Dialer{Timeout: 5 * time.Second}
	addr := c.url[len("https://"):]
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: tr}
}

// Terminate stops and removes the container and its network, then the
// directory it wrote in.
func (c *Container) Terminate(ctx context.Context, opts ...testcontainers.TerminateOption) error {
	var err error
	if c.DockerContainer != nil {
		err = c.DockerContainer.Terminate(ctx, opts...)
	}
	if c.network != nil {
		err = errors.Join(err, c.network.Remove(ctx))
	}
	if c.dir != "" {
		err = errors.Join(err, os.RemoveAll(c.dir))
	}
	return err
}
