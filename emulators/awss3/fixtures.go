package awss3

import (
	"context"
	"fmt"
	"regexp"

	"gopkg.in/yaml.v3"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/fixtureyaml"
	"github.com/idlab/idlab/internal/lazyre"
)

// BucketFixture is one bucket a fixture declares beside its account's IAM
// entities (the files awsiam loads):
//
//	accounts:
//	  - id: "123456789012"
//	    buckets:
//	      - name: app-a-data
//	        region: us-west-2           # default: the loader's default region
//	        policy: {...}               # bucket policy: YAML mapping or JSON string
//	        objects: {hello.txt: hi}    # key -> content
type BucketFixture struct {
	Account string
	Name    string
	Region  string
	Policy  *awsiam.Policy
	Objects map[string]string
}

type bucketYAML struct {
	Name    string            `yaml:"name"`
	Region  string            `yaml:"region"`
	Policy  yaml.Node         `yaml:"policy"`
	Objects map[string]string `yaml:"objects"`
}

var (
	fixtureBucketName = lazyre.New(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionName        = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
)

// ParseFixtures reads the buckets of the fixture file or directory at path;
// a bucket without a region gets defaultRegion. The IAM fields of the same
// files are left to awsiam, which validates them. Errors name file:line; a
// bucket name declared twice is one.
func ParseFixtures(path, defaultRegion string) ([]BucketFixture, error) {
	var out []BucketFixture
	seen := map[string]string{} // bucket -> file:line of its first declaration
	err := fixtureyaml.Load(path, "s3", func(file string, raw []byte) error {
		var doc struct {
			Accounts []struct {
				ID      string      `yaml:"id"`
				Buckets []yaml.Node `yaml:"buckets"`
			} `yaml:"accounts"`
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		at := func(line int, format string, args ...any) error {
			return &fixtureyaml.Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
		}
		for _, a := range doc.Accounts {
			for _, n := range a.Buckets {
				var b bucketYAML
				if err := fixtureyaml.DecodeKnown(&n, &b, "name", "region", "policy", "objects"); err != nil {
					line, msg := fixtureyaml.At(err, n.Line)
					return at(line, "bucket: %s", msg)
				}
				if !fixtureBucketName.MatchString(b.Name) {
					return at(n.Line, "bucket name %q: want 3-63 lower-case letters, digits, dots and hyphens", b.Name)
				}
				if first, dup := seen[b.Name]; dup {
					return at(n.Line, "bucket %q is declared twice (first at %s)", b.Name, first)
				}
				seen[b.Name] = fmt.Sprintf("%s:%d", file, n.Line)
				region, err := pickRegion(b.Region, defaultRegion)
				if err != nil {
					return at(n.Line, "bucket %q: %v", b.Name, err)
				}
				bf := BucketFixture{Account: a.ID, Name: b.Name, Region: region, Objects: b.Objects}
				if !b.Policy.IsZero() {
					if bf.Policy, err = awsiam.PolicyFromYAML(&b.Policy); err != nil {
						return at(b.Policy.Line, "bucket %q policy: %v", b.Name, err)
					}
				}
				out = append(out, bf)
			}
		}
		return nil
	})
	return out, err
}

func pickRegion(r, def string) (string, error) {
	if r == "" {
		r = def
	}
	if !regionName.MatchString(r) {
		return "", fmt.Errorf("region %q is not a region name such as us-west-2", r)
	}
	return r, nil
}

// LoadFixtures creates the buckets and objects the fixtures at path declare
// (ParseFixtures, with Options.Region as the default region). It is
// idempotent, so a restart over the same DataDir keeps what clients wrote
// beside them.
func (h *Handler) LoadFixtures(ctx context.Context, path string) error {
	buckets, err := ParseFixtures(path, h.region)
	if err != nil {
		return err
	}
	for _, b := range buckets {
		if err := h.CreateBucket(ctx, BucketSpec{Name: b.Name, Owner: b.Account, Region: b.Region, Policy: b.Policy}); err != nil {
			return fmt.Errorf("fixture bucket %s: %w", b.Name, err)
		}
		for key, text := range b.Objects {
			if err := h.PutObject(ctx, b.Name, key, []byte(text), "text/plain"); err != nil {
				return fmt.Errorf("fixture object s3://%s/%s: %w", b.Name, key, err)
			}
		}
	}
	return nil
}
