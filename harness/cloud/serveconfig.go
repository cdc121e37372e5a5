package cloud

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultRegion is the AWS region of `idlab serve` when neither its config
// file nor --region names one. The lab (harness) always names its own,
// us-west-2, the region of its EKS-style clusters.
const DefaultRegion = "us-east-1"

// ServeConfig is what `idlab serve` runs with: its flags as one typed
// document, the file --config reads (YAML, or JSON, which is YAML). The
// harness writes one for the emulator's container; flags given explicitly
// override the file.
type ServeConfig struct {
	// DataDir holds the lab CA and persisted state. Defaults to .idlab/serve.
	DataDir string `yaml:"dataDir" json:"dataDir"`
	// CADir holds a lab CA made elsewhere, read only (Config.CADir).
	// Empty: DataDir's, created when absent.
	CADir string `yaml:"caDir,omitempty" json:"caDir,omitempty"`
	// Fixtures are the AWS fixtures (IAM, buckets, topics), a file or a
	// directory; GCPFixtures, EKSFixtures and AzureFixtures the other
	// clouds'. Empty: none.
	Fixtures      string `yaml:"fixtures,omitempty" json:"fixtures,omitempty"`
	GCPFixtures   string `yaml:"gcpFixtures,omitempty" json:"gcpFixtures,omitempty"`
	EKSFixtures   string `yaml:"eksFixtures,omitempty" json:"eksFixtures,omitempty"`
	AzureFixtures string `yaml:"azureFixtures,omitempty" json:"azureFixtures,omitempty"`
	// Issuers is the OIDC issuers file (IssuersFile). Empty: none.
	Issuers string `yaml:"issuers,omitempty" json:"issuers,omitempty"`
	// Listen is the address to listen on. Defaults to 127.0.0.1.
	Listen string `yaml:"listen" json:"listen"`
	// HTTPSPort is the cloud plane's port; 0 picks a free one. Defaults to
	// 8443.
	HTTPSPort int `yaml:"httpsPort" json:"httpsPort"`
	// Region is the default AWS region. Defaults to DefaultRegion.
	Region string `yaml:"region" json:"region"`
	// AdminListen is where the admin API listens: unix:PATH or a loopback
	// IP:PORT. Defaults to unix:DATA-DIR/admin.sock.
	AdminListen string `yaml:"adminListen,omitempty" json:"adminListen,omitempty"`
	// AdminSecretFile holds the admin API's bearer secret, created 0600
	// when absent. Defaults to DATA-DIR/admin.secret.
	AdminSecretFile string `yaml:"adminSecretFile,omitempty" json:"adminSecretFile,omitempty"`
	// IMDS are the nodes' EC2 instance metadata services.
	IMDS []IMDSConfig `yaml:"imds,omitempty" json:"imds,omitempty"`
	// LogDecisions logs one line per allow/deny decision to stderr
	// (Config.LogDecisions). Defaults to off.
	LogDecisions bool `yaml:"logDecisions,omitempty" json:"logDecisions,omitempty"`
	// Fsync fsyncs every write under DataDir (Config.Fsync). Defaults to
	// off.
	Fsync bool `yaml:"fsync,omitempty" json:"fsync,omitempty"`
	// PprofListen, a loopback IP:PORT, serves the process's CPU and heap
	// profiles (GET /debug/pprof/profile?seconds=N, /debug/pprof/heap),
	// for measuring serve under load. Defaults to off.
	PprofListen string `yaml:"pprofListen,omitempty" json:"pprofListen,omitempty"`
}

// DefaultServeConfig is the configuration of `idlab serve` with no file
// and no flags.
func DefaultServeConfig() ServeConfig {
	return ServeConfig{DataDir: ".idlab/serve", Listen: "127.0.0.1", HTTPSPort: 8443, Region: DefaultRegion}
}

// Config is the cloud configuration sc describes; the admin secret is read
// from AdminSecretFile by the caller.
func (sc ServeConfig) Config() Config {
	cfg := Config{DataDir: sc.DataDir, CADir: sc.CADir, Listen: sc.Listen, HTTPSPort: sc.HTTPSPort, Region: sc.Region, IMDS: sc.IMDS, AdminListen: sc.AdminListen,
		LogDecisions: sc.LogDecisions, Fsync: sc.Fsync}
	for _, fs := range fixtureSets {
		*fs.cloud(&cfg) = *fs.serve(&sc)
	}
	return cfg
}

// Bind defines serve's flags on fs, each writing its field of sc and
// showing sc's value as its default; --imds given at all replaces sc.IMDS.
func (sc *ServeConfig) Bind(fs *flag.FlagSet) {
	fs.StringVar(&sc.DataDir, "data-dir", sc.DataDir, "directory for the lab CA and persisted state")
	fs.StringVar(&sc.CADir, "ca-dir", sc.CADir, "directory holding a lab CA made elsewhere (ca.pem, ca-key.pem), read only (default: the data dir's, created when absent)")
	for _, set := range fixtureSets {
		p := set.serve(sc)
		fs.StringVar(p, set.flag, *p, set.usage)
	}
	fs.StringVar(&sc.Listen, "listen", sc.Listen, "address to listen on")
	fs.IntVar(&sc.HTTPSPort, "https-port", sc.HTTPSPort, "HTTPS port (0 picks a free one)")
	fs.StringVar(&sc.Region, "region", sc.Region, "default AWS region (serve's default: "+DefaultRegion+"; the lab's: us-west-2)")
	fs.StringVar(&sc.AdminListen, "admin-listen", sc.AdminListen, "where the admin API listens: unix:PATH or 127.0.0.1:PORT, never a non-loopback address (default unix:DATA-DIR/admin.sock)")
	fs.StringVar(&sc.AdminSecretFile, "admin-secret-file", sc.AdminSecretFile, "file holding the admin API's bearer secret, created 0600 when absent (default DATA-DIR/admin.secret)")
	fs.BoolVar(&sc.LogDecisions, "log-decisions", sc.LogDecisions, "log one line per allow/deny decision to stderr (the admin API's decision log has them either way)")
	fs.BoolVar(&sc.Fsync, "fsync", sc.Fsync, "fsync every write under the data dir (sessions, S3 objects, state), for power loss; off, a killed process still loses nothing acknowledged")
	fs.StringVar(&sc.PprofListen, "pprof-listen", sc.PprofListen, "serve CPU and heap profiles on this loopback IP:PORT (/debug/pprof/profile?seconds=N, /debug/pprof/heap); off unless set")
	fromFlags := false
	fs.Func("imds", "a node's EC2 instance metadata on plain HTTP (repeatable): name=N,port=P,bridge-port=B,role=ARN,instance-id=I,region=R,hop-limit=H,http-tokens=required|optional", func(s string) error {
		ic, err := ParseIMDSFlag(s)
		if !fromFlags {
			sc.IMDS, fromFlags = nil, true
		}
		sc.IMDS = append(sc.IMDS, ic)
		return err
	})
}

// LoadServeConfig reads a serve config file over DefaultServeConfig: the
// fields it names replace the defaults. A field serve does not know is an
// error naming it and the known ones.
func LoadServeConfig(path string) (ServeConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ServeConfig{}, fmt.Errorf("serve config: %w", err)
	}
	sc, err := ParseServeConfig(raw)
	if err != nil {
		return ServeConfig{}, fmt.Errorf("serve config %s: %w", path, err)
	}
	return sc, nil
}

// ParseServeConfig is LoadServeConfig on the file's bytes.
func ParseServeConfig(raw []byte) (ServeConfig, error) {
	sc := DefaultServeConfig()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&sc); err != nil && !errors.Is(err, io.EOF) {
		return ServeConfig{}, unknownFields(err)
	}
	for i, ic := range sc.IMDS {
		if _, err := ParseIMDSFlag(ic.String()); err != nil {
			return ServeConfig{}, fmt.Errorf("imds[%d]: %w", i, err)
		}
	}
	return sc, nil
}

// WriteServeConfig writes sc as YAML to path, for `idlab serve --config`.
func WriteServeConfig(path string, sc ServeConfig) error {
	raw, err := yaml.Marshal(sc)
	if err != nil {
		return fmt.Errorf("marshal serve config: %w", err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return fmt.Errorf("write serve config: %w", err)
	}
	return nil
}

// unknownField matches yaml.v3's words for a key with no field.
var unknownField = regexp.MustCompile(`field (\S+) not found in type cloud\.(\w+)`)

// unknownFields rewrites yaml.v3's unmarshal errors so an unknown key reads
// `line N: unknown field "regoin" (known: dataDir, ...)`.
func unknownFields(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	known := map[string]reflect.Type{"ServeConfig": reflect.TypeFor[ServeConfig](), "IMDSConfig": reflect.TypeFor[IMDSConfig]()}
	msgs := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		msgs[i] = unknownField.ReplaceAllStringFunc(e, func(m string) string {
			sub := unknownField.FindStringSubmatch(m)
			return fmt.Sprintf("unknown field %q (known: %s)", sub[1], strings.Join(yamlFields(known[sub[2]]), ", "))
		})
	}
	return errors.New(strings.Join(msgs, "; "))
}

// yamlFields are the keys a YAML document of struct type t may hold.
func yamlFields(t reflect.Type) []string {
	if t == nil {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		out = append(out, name)
	}
	return out
}
