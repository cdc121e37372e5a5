package idlabtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/harness/cloud"
)

// CloudOptions say what StartCloud serves. Each fixture is a YAML file or
// a directory of them, "" for none (see fixtures/ for the lab's).
type CloudOptions struct {
	AWSFixtures   string // IAM, buckets, topics
	GCPFixtures   string // projects, service accounts, pools, bindings, GCS buckets
	EKSFixtures   string // EKS clusters and pod identity associations
	AzureFixtures string // Entra tenants and apps, storage accounts
	// Issuers are cluster issuer URLs the cloud hosts, each with a signing
	// key the test mints tokens with (Cloud.Issuer).
	Issuers []string
}

// Cloud is the composed emulator service the lab runs (`idlab serve`),
// started on 127.0.0.1. Its Client sends every request, whatever cloud
// host name it addresses (sts.us-west-2.amazonaws.com,
// storage.googleapis.com, login.microsoftonline.com ...), to the cloud,
// as cluster DNS does for a pod. The admin API is served in process only
// (Admin).
type Cloud struct {
	*cloud.Cloud
	dir string
}

// StartCloud starts the composed cloud in a new temporary data directory.
// Close stops it and removes the directory.
func StartCloud(opts CloudOptions) (_ *Cloud, err error) {
	dir, err := os.MkdirTemp("", "idlabtest-cloud-")
	if err != nil {
		return nil, fmt.Errorf("idlabtest: %w", err)
	}
	c := &Cloud{dir: dir}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	c.Cloud, err = cloud.New(cloud.Config{DataDir: filepath.Join(dir, "data"), Region: Region, FixturesDir: opts.AWSFixtures,
		GCPFixtures: opts.GCPFixtures, EKSFixtures: opts.EKSFixtures, AzureFixtures: opts.AzureFixtures})
	if err != nil {
		return nil, fmt.Errorf("idlabtest: %w", err)
	}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("idlabtest: %w", err)
	}
	for _, u := range opts.Issuers {
		if _, err := signingIssuer(c.OIDC, u); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// NewCloud is StartCloud for a test: it fails t on error and closes at the
// test's end.
func NewCloud(t testing.TB, opts CloudOptions) *Cloud {
	t.Helper()
	c, err := StartCloud(opts)
	return started(t, c, err)
}

// Issuer is the hosted issuer url (one of CloudOptions.Issuers, or any
// added since), or nil.
func (c *Cloud) Issuer(url string) *oidc.Issuer {
	iss, _ := c.OIDC.Issuer(url)
	return iss
}

// TokenFile mints a token of the hosted issuer for namespace/serviceAccount
// with the audience sts.amazonaws.com and writes it to a new file.
func (c *Cloud) TokenFile(issuerURL, namespace, serviceAccount string) (string, error) {
	return writeToken(c.Issuer(issuerURL), c.dir, namespace, serviceAccount)
}

// Config is an aws-sdk-go-v2 config whose credentials are those of
// roleARN, assumed with the token in tokenFile at the cloud's STS; every
// service's client reaches the cloud by its real host name.
func (c *Cloud) Config(roleARN, tokenFile string) aws.Config {
	return webIdentityConfig(c.Client(), "", roleARN, tokenFile)
}

// Admin sends an admin API request (path under /_idlab/) in process and
// returns its status and body.
func (c *Cloud) Admin(method, path, body string) (int, string) {
	rec := httptest.NewRecorder()
	c.AdminHandler().ServeHTTP(rec, httptest.NewRequest(method, "http://idlab-admin"+path, strings.NewReader(body)))
	return rec.Code, rec.Body.String()
}

// AdminJSON is Admin with JSON: body (when not nil) is sent encoded, a
// 2xx answer is decoded into out (when not nil), any other is an error
// naming the status and body. Its signature is scenarios/kit/labenv's
// AdminFunc, so code written for the lab's admin API runs in process.
func (c *Cloud) AdminJSON(_ context.Context, method, path string, body, out any) error {
	raw := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		raw = string(b)
	}
	status, resp := c.Admin(method, path, raw)
	if status/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, status, resp)
	}
	if out == nil || resp == "" {
		return nil
	}
	return json.Unmarshal([]byte(resp), out)
}

// Close stops the cloud and removes its data directory.
func (c *Cloud) Close() {
	if c.Cloud != nil {
		_ = c.Cloud.Close(context.Background())
	}
	_ = os.RemoveAll(c.dir)
}
