package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

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
)

// Service names an emulated endpoint family.
type Service string

// Services the registry (services) holds.
const (
	ServiceNone Service = ""
	// ServiceIAM is the IAM store, its API on iam.amazonaws.com, its
	// admin API and the AWS fixtures.
	ServiceIAM Service = "iam"
	ServiceSTS Service = "sts"
	ServiceS3  Service = "s3"
	ServiceSNS Service = "sns"
	// Google: the identity plane (accounts.google.com, IAM Credentials, STS,
	// tokeninfo, JWKS) and Cloud Storage.
	ServiceGoogleIAM Service = "gcpiam"
	ServiceGCS       Service = "gcs"
	// ServiceEntra is the Microsoft Entra token endpoint.
	ServiceEntra Service = "entra"
	// ServiceAzureBlob is Azure Blob Storage (ACCOUNT.blob.core.windows.net).
	ServiceAzureBlob Service = "azureblob"
	// ServiceAzureARM is Azure Resource Manager's tenant-level reads
	// (management.azure.com: the subscriptions and tenants az login lists).
	ServiceAzureARM Service = "azurearm"
	// ServiceEKSAuth is EKS Auth (AssumeRoleForPodIdentity).
	ServiceEKSAuth Service = "eks-auth"
	ServiceOIDC    Service = "oidc"
)

// service is one cloud service of the composed emulator, registered once in
// services: how it is built, which requests are its own, its admin API,
// its fixtures, what Endpoints prints for it and the DNS zones the lab's
// clusters send to it. New, the router, AdminHandler, Endpoints and Zones
// all read services; adding a service is one entry there.
type service struct {
	name Service
	// build constructs the service into c. Services are built in the
	// order of services, so one may use those listed before it, except
	// the aside ones, which it must name in needs.
	build func(c *Cloud) error
	// aside lets the build run beside the builds after it: it makes a
	// signing key on a first start (RSA, a tenth of a second or more of
	// CPU), and a lab's first answer should not wait for each in turn.
	aside bool
	// needs are the aside services the build uses, waited for first.
	needs []Service
	// handler is its cloud-plane handler, once built.
	handler func(c *Cloud) http.Handler
	// host reports whether a request to host (lower case, no port) is the
	// service's; nil when no host name is. Hosts are tried in the order of
	// services: sns.amazonaws.com is SNS's before S3 sees its "s3" label.
	host func(host string) bool
	// sigv4 is the service of its SigV4 credential scope ("" for none).
	sigv4 string
	// actions are the query-protocol actions whose unsigned form on a
	// loopback address goes to the service.
	actions []string
	// adminPrefix is where its admin API is on the admin listener, and
	// admin that API; "" and nil for none.
	adminPrefix string
	admin       func(c *Cloud) http.Handler
	// fixtures names the fixture set (fixtureSets) the service seeds
	// itself from, and load seeds it from that set's path when one is
	// configured. Loads run after every service is built, in the order of
	// services.
	fixtures string
	load     func(ctx context.Context, c *Cloud, path string) error
	// endpoints is what Endpoints prints for the service, given the cloud
	// plane's URL; nil for nothing.
	endpoints func(c *Cloud, url string) map[string]string
	// seeded runs once every service is built and seeded from its
	// fixtures, in the order of services; nil for nothing.
	seeded func(c *Cloud) error
	// close releases what the service holds when the cloud stops.
	close func(c *Cloud)
	// zones are the DNS zones cluster CoreDNS answers with the emulator's
	// address, so pods reach the service under its real host names.
	zones []string
}

// fixtureSet is one file or directory of fixtures, which the services
// naming it read: its serve flag, and its field in ServeConfig (the file
// key is the field's) and in Config.
type fixtureSet struct {
	flag, usage string
	serve       func(*ServeConfig) *string
	cloud       func(*Config) *string
	// labDir names the directory beside fixtures/aws the lab copies the
	// set from ("" when the lab fills it otherwise).
	labDir string
}

// The fixture sets services name.
const (
	fixturesAWS     = "fixtures"
	fixturesGCP     = "gcp-fixtures"
	fixturesEKS     = "eks-fixtures"
	fixturesAzure   = "azure-fixtures"
	fixturesIssuers = "issuers"
)

// fixtureSets are the fixture sets, in serve's flag order.
var fixtureSets = []fixtureSet{
	{fixturesAWS, "AWS fixtures (IAM, buckets, topics): a YAML file or a directory of them",
		func(sc *ServeConfig) *string { return &sc.Fixtures }, func(c *Config) *string { return &c.FixturesDir }, ""},
	{fixturesGCP, "Google fixtures (projects, service accounts, pools, bindings, GCS buckets)",
		func(sc *ServeConfig) *string { return &sc.GCPFixtures }, func(c *Config) *string { return &c.GCPFixtures }, "gcp"},
	{fixturesEKS, "EKS Auth fixtures (clusters, pod identity associations)",
		func(sc *ServeConfig) *string { return &sc.EKSFixtures }, func(c *Config) *string { return &c.EKSFixtures }, "eks"},
	{fixturesAzure, "Entra fixtures (tenants, apps, federated credentials)",
		func(sc *ServeConfig) *string { return &sc.AzureFixtures }, func(c *Config) *string { return &c.AzureFixtures }, "azure"},
	{fixturesIssuers, "YAML file listing OIDC issuers and their public keys",
		func(sc *ServeConfig) *string { return &sc.Issuers }, func(c *Config) *string { return &c.IssuersFile }, ""},
}

// FixtureDir is a fixture set the lab fills from a directory beside its
// AWS fixtures (fixtures/gcp beside fixtures/aws).
type FixtureDir struct {
	Dir string                     // the directory's name, e.g. "gcp"
	Set func(*ServeConfig, string) // sets the set's path in a ServeConfig
}

// FixtureDirs are the fixture sets the lab copies from directories beside
// its AWS fixtures, in registry order.
func FixtureDirs() []FixtureDir {
	var out []FixtureDir
	for _, fs := range fixtureSets {
		if fs.labDir != "" {
			out = append(out, FixtureDir{Dir: fs.labDir, Set: func(sc *ServeConfig, path string) { *fs.serve(sc) = path }})
		}
	}
	return out
}

// fixturePath is where c's configuration puts the fixture set named set
// ("" for none).
func (c *Cloud) fixturePath(set string) string {
	for _, fs := range fixtureSets {
		if fs.flag == set {
			return *fs.cloud(&c.cfg)
		}
	}
	return ""
}

// DefaultAccount is the account the lab's IAM admin is made in when the
// fixtures name none: the account of the lab's own fixtures.
const DefaultAccount = "123456789012"

// services is the registry, in build order.
var services = []service{
	{
		// The IAM store every AWS service shares, and the IAM API on
		// iam.amazonaws.com (emulators/awsiamapi) over it.
		name: ServiceIAM,
		build: func(c *Cloud) (err error) {
			c.IAM, err = awsiam.New(awsiam.Options{Now: c.Clock.Now, Logger: c.log.With("emulator", "iam"), Decisions: c.Decisions, DataDir: filepath.Join(c.cfg.DataDir, "iam"), Fsync: c.cfg.Fsync})
			if err != nil {
				return wrap("iam", err)
			}
			c.IAMAPI, err = awsiamapi.New(awsiamapi.Options{IAM: c.IAM, Now: c.Clock.Now, Logger: c.log.With("emulator", "iam")})
			return wrap("iam api", err)
		},
		handler: func(c *Cloud) http.Handler { return c.IAMAPI },
		host:    func(host string) bool { return host == "iam.amazonaws.com" },
		sigv4:   "iam",
		actions: awsiamapi.Actions(),
		// Every account the fixtures name gets the lab's IAM admin, whose
		// keys go to DATA/iam/admin-credentials ([default]: the lowest
		// account ID, 123456789012 without fixtures).
		seeded: func(c *Cloud) error {
			accounts := c.IAM.Accounts()
			if len(accounts) == 0 {
				accounts = []string{DefaultAccount}
			}
			return wrap("iam admins", c.IAM.EnsureAdmins(accounts...))
		},
		endpoints: func(c *Cloud, u string) map[string]string {
			return map[string]string{"iam": u + " (AWS_ENDPOINT_URL_IAM), or https://iam.amazonaws.com through lab DNS; admin keys: " +
				filepath.Join(c.cfg.DataDir, "iam", awsiam.AdminCredentialsFile)}
		},
		adminPrefix: "/_idlab/iam/",
		admin:       func(c *Cloud) http.Handler { return c.IAM.AdminHandler() },
		close: func(c *Cloud) {
			if err := c.IAM.Close(); err != nil {
				c.log.Error("close iam", "err", err)
			}
		},
		fixtures: fixturesAWS,
		load: func(_ context.Context, c *Cloud, path string) error {
			return wrap("iam fixtures", c.IAM.LoadFixtures(path))
		},
		zones: []string{"amazonaws.com"},
	},
	{
		// OIDC issuers are found by host and path (Cloud.isIssuer) before
		// any host name below.
		name: ServiceOIDC,
		build: func(c *Cloud) (err error) {
			c.OIDC, err = oidc.New(oidc.Options{CA: c.CA, Now: c.Clock.Now, Logger: c.log.With("emulator", "oidc")})
			return wrap("oidc", err)
		},
		handler:     func(c *Cloud) http.Handler { return c.OIDC },
		adminPrefix: "/_idlab/oidc/",
		admin:       func(c *Cloud) http.Handler { return c.OIDC.AdminHandler() },
		fixtures:    fixturesIssuers,
		load:        loadIssuers,
		endpoints: func(c *Cloud, _ string) map[string]string {
			eps := map[string]string{}
			for i, iss := range c.OIDC.Issuers() {
				eps["issuer."+strconv.Itoa(i)] = iss.URL()
			}
			return eps
		},
	},
	{
		name: ServiceSTS,
		build: func(c *Cloud) (err error) {
			c.STS, err = awssts.New(awssts.Options{IAM: c.IAM, Now: c.Clock.Now, Logger: c.log.With("emulator", "sts"),
				HTTPClient: c.loopbackClient(), Region: c.cfg.Region})
			return wrap("sts", err)
		},
		handler: func(c *Cloud) http.Handler { return c.STS },
		host: func(host string) bool {
			labels, ok := awsLabels(host)
			return ok && (labels[0] == "sts" || labels[0] == "sts-fips") && len(labels) <= 2
		},
		sigv4:   "sts",
		actions: []string{"AssumeRoleWithWebIdentity", "AssumeRole", "GetCallerIdentity"},
		endpoints: func(c *Cloud, u string) map[string]string {
			return map[string]string{"sts": u + " (AWS_ENDPOINT_URL_STS), or https://sts.amazonaws.com and https://sts." + c.cfg.Region + ".amazonaws.com through lab DNS"}
		},
		zones: []string{"amazonaws.com"},
	},
	{
		name:  ServiceSNS,
		aside: true,
		build: func(c *Cloud) (err error) {
			c.SNS, err = awssns.New(awssns.Options{IAM: c.IAM, Now: c.Clock.Now, Logger: c.log.With("emulator", "sns"),
				DataDir: filepath.Join(c.cfg.DataDir, "sns"), Fsync: c.cfg.Fsync, Region: c.cfg.Region})
			return wrap("sns", err)
		},
		handler: func(c *Cloud) http.Handler { return c.SNS },
		host: func(host string) bool {
			labels, ok := awsLabels(host)
			return ok && (labels[0] == "sns" || labels[0] == "sns-fips") && len(labels) == 2
		},
		sigv4: "sns",
		actions: []string{"CreateTopic", "DeleteTopic", "ListTopics", "GetTopicAttributes",
			"SetTopicAttributes", "Subscribe", "ConfirmSubscription", "Unsubscribe",
			"ListSubscriptions", "ListSubscriptionsByTopic", "Publish", "PublishBatch"},
		adminPrefix: "/_idlab/sns/",
		admin:       func(c *Cloud) http.Handler { return c.SNS.AdminHandler() },
		fixtures:    fixturesAWS,
		load:        func(ctx context.Context, c *Cloud, path string) error { return c.SNS.LoadFixtures(ctx, path) },
		endpoints: func(c *Cloud, u string) map[string]string {
			return map[string]string{"sns": u + " (AWS_ENDPOINT_URL_SNS), or https://sns." + c.cfg.Region + ".amazonaws.com through lab DNS"}
		},
		close: func(c *Cloud) { c.SNS.Close() }, // stops pending HTTP deliveries
		zones: []string{"amazonaws.com"},
	},
	{
		name: ServiceS3,
		build: func(c *Cloud) (err error) {
			c.S3, err = awss3.New(awss3.Options{IAM: c.IAM, Now: c.Clock.Now, Logger: c.log.With("emulator", "s3"),
				DataDir: filepath.Join(c.cfg.DataDir, "s3"), Fsync: c.cfg.Fsync, Region: c.cfg.Region})
			return wrap("s3", err)
		},
		handler: func(c *Cloud) http.Handler { return c.S3 },
		// s3.amazonaws.com, s3.REGION..., s3-REGION..., s3.dualstack.REGION...,
		// and virtual-hosted BUCKET.s3... where the bucket may itself hold dots.
		host: func(host string) bool {
			labels, ok := awsLabels(host)
			for i, l := range labels {
				if ok && (l == "s3" || l == "s3-fips" || l == "s3-external-1" || strings.HasPrefix(l, "s3-") && i == len(labels)-1) {
					return true
				}
			}
			return false
		},
		sigv4:       "s3",
		adminPrefix: "/_idlab/s3/",
		admin:       func(c *Cloud) http.Handler { return c.S3.AdminHandler() },
		fixtures:    fixturesAWS,
		load:        func(ctx context.Context, c *Cloud, path string) error { return c.S3.LoadFixtures(ctx, path) },
		close: func(c *Cloud) {
			if err := c.S3.Close(); err != nil {
				c.log.Error("close s3", "err", err)
			}
		},
		endpoints: func(c *Cloud, u string) map[string]string {
			return map[string]string{"s3": u + " (AWS_ENDPOINT_URL_S3, path-style), or https://s3." + c.cfg.Region + ".amazonaws.com and BUCKET.s3.REGION.amazonaws.com through lab DNS"}
		},
		zones: []string{"amazonaws.com"},
	},
	{
		name: ServiceEKSAuth,
		build: func(c *Cloud) (err error) {
			c.EKS, err = eksauth.New(eksauth.Options{IAM: c.IAM, Now: c.Clock.Now, Logger: c.log.With("emulator", "eks-auth"),
				HTTPClient: c.loopbackClient(), Region: c.cfg.Region, DataDir: filepath.Join(c.cfg.DataDir, "eksauth"), Fsync: c.cfg.Fsync})
			return wrap("eks auth", err)
		},
		handler: func(c *Cloud) http.Handler { return c.EKS },
		host: func(host string) bool {
			rest, ok := strings.CutSuffix(host, ".api.aws")
			region, ok2 := strings.CutPrefix(rest, "eks-auth.")
			return ok && ok2 && !strings.Contains(region, ".")
		},
		adminPrefix: eksauth.AdminPrefix,
		admin:       func(c *Cloud) http.Handler { return c.EKS.AdminHandler() },
		fixtures:    fixturesEKS,
		load: func(_ context.Context, c *Cloud, path string) error {
			return wrap("eks auth fixtures", c.EKS.LoadFixtures(path))
		},
		endpoints: func(c *Cloud, _ string) map[string]string {
			return map[string]string{"eks-auth": "https://eks-auth." + c.cfg.Region + ".api.aws through lab DNS"}
		},
		zones: []string{"api.aws"},
	},
	{
		// Google's identity plane: accounts.google.com, IAM Credentials,
		// STS, tokeninfo, JWKS.
		name:  ServiceGoogleIAM,
		aside: true,
		build: func(c *Cloud) (err error) {
			c.Google, err = gcpiam.New(gcpiam.Options{Now: c.Clock.Now, Logger: c.log.With("emulator", "gcpiam"), Decisions: c.Decisions,
				DataDir: filepath.Join(c.cfg.DataDir, "gcpiam"), Fsync: c.cfg.Fsync, HTTPClient: c.loopbackClient()})
			return wrap("google iam", err)
		},
		handler: func(c *Cloud) http.Handler { return c.Google },
		host: func(host string) bool {
			name, ok := strings.CutSuffix(host, ".googleapis.com")
			return host == "accounts.google.com" || ok && googleIdentityHosts[name]
		},
		adminPrefix: "/_idlab/google/",
		admin:       func(c *Cloud) http.Handler { return c.Google.AdminHandler() },
		fixtures:    fixturesGCP,
		load: func(_ context.Context, c *Cloud, path string) error {
			return wrap("google fixtures", c.Google.LoadFixtures(path))
		},
		close: func(c *Cloud) { c.Google.Close() }, // waits for a token journal compaction
		endpoints: func(*Cloud, string) map[string]string {
			return map[string]string{"google": "https://accounts.google.com, https://{sts,iamcredentials,oauth2,www}.googleapis.com and https://storage.googleapis.com through lab DNS"}
		},
		zones: []string{"googleapis.com", "accounts.google.com"},
	},
	{
		name:  ServiceGCS,
		needs: []Service{ServiceGoogleIAM},
		build: func(c *Cloud) (err error) {
			c.GCS, err = gcs.New(gcs.Options{IAM: c.Google, Now: c.Clock.Now, Logger: c.log.With("emulator", "gcs"),
				DataDir: filepath.Join(c.cfg.DataDir, "gcs")})
			return wrap("cloud storage", err)
		},
		handler:  func(c *Cloud) http.Handler { return c.GCS },
		host:     func(host string) bool { return host == "storage.googleapis.com" },
		fixtures: fixturesGCP,
		load:     func(ctx context.Context, c *Cloud, path string) error { return c.GCS.LoadFixtures(ctx, path) },
		// Endpoints: under "google".
		zones: []string{"googleapis.com"},
	},
	{
		name:  ServiceEntra,
		aside: true,
		build: func(c *Cloud) (err error) {
			c.Entra, err = entra.New(entra.Options{Now: c.Clock.Now, Logger: c.log.With("emulator", "entra"), Decisions: c.Decisions,
				DataDir: filepath.Join(c.cfg.DataDir, "entra"), Fsync: c.cfg.Fsync, HTTPClient: c.loopbackClient()})
			return wrap("entra", err)
		},
		handler:     func(c *Cloud) http.Handler { return c.Entra },
		host:        func(host string) bool { return host == "login.microsoftonline.com" || host == "login.microsoft.com" },
		adminPrefix: entra.AdminPrefix,
		admin:       func(c *Cloud) http.Handler { return c.Entra.AdminHandler() },
		fixtures:    fixturesAzure,
		load: func(_ context.Context, c *Cloud, path string) error {
			return wrap("entra fixtures", c.Entra.LoadFixtures(path))
		},
		endpoints: func(*Cloud, string) map[string]string {
			return map[string]string{"entra": "https://login.microsoftonline.com through lab DNS"}
		},
		// azure.com: the AKS issuers (oic.prod-aks.azure.com) the lab hosts.
		zones: []string{"microsoftonline.com", "login.microsoft.com", "azure.com"},
	},
	{
		name:  ServiceAzureBlob,
		needs: []Service{ServiceEntra},
		build: func(c *Cloud) (err error) {
			c.Blob, err = azureblob.New(azureblob.Options{Tokens: c.Entra, Now: c.Clock.Now, Logger: c.log.With("emulator", "azureblob"), Decisions: c.Decisions,
				DataDir: filepath.Join(c.cfg.DataDir, "azureblob"), Fsync: c.cfg.Fsync})
			return wrap("azure blob", err)
		},
		handler: func(c *Cloud) http.Handler { return c.Blob },
		host: func(host string) bool {
			account, ok := strings.CutSuffix(host, azureblob.BlobHostSuffix)
			return ok && !strings.Contains(account, ".")
		},
		adminPrefix: azureblob.AdminPrefix,
		admin:       func(c *Cloud) http.Handler { return c.Blob.AdminHandler() },
		fixtures:    fixturesAzure,
		load: func(_ context.Context, c *Cloud, path string) error {
			return wrap("azure blob fixtures", c.Blob.LoadFixtures(path))
		},
		endpoints: func(*Cloud, string) map[string]string {
			return map[string]string{"azureblob": "https://ACCOUNT.blob.core.windows.net through lab DNS"}
		},
		zones: []string{"blob.core.windows.net"},
	},
	{
		// After the blob service: a principal's subscriptions are those of
		// the storage accounts it holds a role assignment in.
		name:  ServiceAzureARM,
		needs: []Service{ServiceEntra},
		build: func(c *Cloud) (err error) {
			c.ARM, err = azurearm.New(azurearm.Options{Directory: c.Entra, Subscriptions: c.Blob, Now: c.Clock.Now,
				Logger: c.log.With("emulator", "azurearm"), Decisions: c.Decisions})
			return wrap("azure resource manager", err)
		},
		handler:  func(c *Cloud) http.Handler { return c.ARM },
		host:     func(host string) bool { return host == "management.azure.com" },
		fixtures: fixturesAzure,
		load: func(_ context.Context, c *Cloud, path string) error {
			return wrap("azure resource manager fixtures", c.ARM.LoadFixtures(path))
		},
		endpoints: func(*Cloud, string) map[string]string {
			return map[string]string{"azurearm": "https://management.azure.com (GET /subscriptions, /tenants; the aks nodes' scale sets) through lab DNS"}
		},
		// azure.com is Entra's already (the AKS issuers); listed for the record.
		zones: []string{"azure.com"},
	},
}

// Zones are the DNS zones whose names cluster DNS sends to the emulator:
// every zone a registered service names, each once, in registry order.
func Zones() []string {
	var out []string
	for _, s := range services {
		for _, z := range s.zones {
			if !slices.Contains(out, z) {
				out = append(out, z)
			}
		}
	}
	return out
}

// wrap prefixes err with what failed; nil stays nil.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// awsLabels splits an amazonaws.com host into the labels before the
// suffix; ok is false for other hosts.
func awsLabels(host string) (labels []string, ok bool) {
	rest, ok := strings.CutSuffix(host, ".amazonaws.com")
	if !ok {
		return nil, false
	}
	return strings.Split(rest, "."), true
}

// googleIdentityHosts are the googleapis.com hosts of Google's identity
// plane, all answered by gcpiam.
var googleIdentityHosts = map[string]bool{"iamcredentials": true, "sts": true, "oauth2": true, "www": true, "iam": true}

// loadIssuers hosts the issuers of the issuers file at path, publishes
// their keys and registers the IAM OIDC providers they ask for. It runs
// after the IAM fixtures are loaded (services' order), so a provider the
// fixtures register stays as they wrote it.
func loadIssuers(_ context.Context, c *Cloud, path string) error {
	issuers, err := LoadIssuers(path)
	if err != nil {
		return err
	}
	for _, li := range issuers {
		if err := c.addIssuer(li); err != nil {
			return err
		}
		if err := c.registerProvider(li); err != nil {
			return err
		}
	}
	return nil
}

// ProviderClientID is the client ID (audience) of the IAM OIDC providers
// the lab registers for its EKS-style clusters: IRSA's token audience.
const ProviderClientID = "sts.amazonaws.com"

// registerProvider registers li's IAM OIDC provider in li.AWSAccount (none
// when empty); one the fixtures registered already is left as it is.
func (c *Cloud) registerProvider(li LoadedIssuer) error {
	if li.AWSAccount == "" {
		return nil
	}
	err := c.IAM.AddOIDCProvider(awsiam.OIDCProvider{Account: li.AWSAccount, URL: li.URL, ClientIDs: []string{ProviderClientID}})
	if errors.Is(err, awsiam.ErrEntityAlreadyExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("issuer %s: IAM OIDC provider in account %s: %w", li.URL, li.AWSAccount, err)
	}
	return nil
}
