package cloud

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/idlab/idlab/emulators/awsiam"
)

// Resources are the S3 buckets and SNS topics the fixtures declare beside
// each account's IAM entities:
//
//	accounts:
//	  - id: "123456789012"
//	    buckets:
//	      - name: app-a-data
//	        region: us-west-2           # default: Config.Region
//	        policy: {...}               # bucket policy: YAML mapping or JSON string
//	        objects: {hello.txt: hi}    # key -> content
//	    topics:
//	      - name: uploads
//	        region: us-west-2
//	        policy: {...}               # topic policy; default: AWS's default policy
type Resources struct {
	Buckets []BucketFixture
	Topics  []TopicFixture
}

// BucketFixture is one bucket to create at start.
type BucketFixture struct {
	Account string
	Name    string
	Region  string
	Policy  *awsiam.Policy
	Objects map[string]string
}

// TopicFixture is one SNS topic to create at start.
type TopicFixture struct {
	Account string
	Name    string
	Region  string
	Policy  *awsiam.Policy
}

type resourceDoc struct {
	Accounts []struct {
		ID      string      `yaml:"id"`
		Buckets []yaml.Node `yaml:"buckets"`
		Topics  []yaml.Node `yaml:"topics"`
	} `yaml:"accounts"`
}

type bucketYAML struct {
	Name    string            `yaml:"name"`
	Region  string            `yaml:"region"`
	Policy  yaml.Node         `yaml:"policy"`
	Objects map[string]string `yaml:"objects"`
}

type topicYAML struct {
	Name   string    `yaml:"name"`
	Region string    `yaml:"region"`
	Policy yaml.Node `yaml:"policy"`
}

var (
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	topicName  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}(\.fifo)?$`)
	regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
)

// LoadResources reads the buckets and topics of the fixture file or
// directory at path (the files IAM loads). Errors name file:line; the IAM
// fields of the same files are left to awsiam, which validates them.
func LoadResources(path, defaultRegion string) (*Resources, error) {
	files, err := awsiam.FixtureFiles(path)
	if err != nil {
		return nil, err
	}
	res := &Resources{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("fixtures: %w", err)
		}
		if err := res.add(f, raw, defaultRegion); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (res *Resources) add(file string, raw []byte, defaultRegion string) error {
	var doc resourceDoc
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	at := func(line int, format string, args ...any) error {
		return &awsiam.FixtureError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	for _, a := range doc.Accounts {
		for _, n := range a.Buckets {
			var b bucketYAML
			if err := decodeKnown(&n, &b, "name", "region", "policy", "objects"); err != nil {
				return at(errLine(err, n.Line), "bucket: %v", msgOf(err))
			}
			if !bucketName.MatchString(b.Name) {
				return at(n.Line, "bucket name %q: want 3-63 lower-case letters, digits, dots and hyphens", b.Name)
			}
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
			res.Buckets = append(res.Buckets, bf)
		}
		for _, n := range a.Topics {
			var t topicYAML
			if err := decodeKnown(&n, &t, "name", "region", "policy"); err != nil {
				return at(errLine(err, n.Line), "topic: %v", msgOf(err))
			}
			if !topicName.MatchString(t.Name) {
				return at(n.Line, "topic name %q: want 1-256 letters, digits, hyphens and underscores (.fifo suffix allowed)", t.Name)
			}
			region, err := pickRegion(t.Region, defaultRegion)
			if err != nil {
				return at(n.Line, "topic %q: %v", t.Name, err)
			}
			tf := TopicFixture{Account: a.ID, Name: t.Name, Region: region}
			if !t.Policy.IsZero() {
				if tf.Policy, err = awsiam.PolicyFromYAML(&t.Policy); err != nil {
					return at(t.Policy.Line, "topic %q policy: %v", t.Name, err)
				}
			}
			res.Topics = append(res.Topics, tf)
		}
	}
	return nil
}

func errLine(err error, fallback int) int {
	var fe *awsiam.FixtureError
	if errors.As(err, &fe) && fe.Line > 0 {
		return fe.Line
	}
	return fallback
}

func msgOf(err error) string {
	var fe *awsiam.FixtureError
	if errors.As(err, &fe) {
		return fe.Msg
	}
	return err.Error()
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

// decodeKnown decodes n into v, refusing keys outside known and naming the
// line of the first unknown one.
func decodeKnown(n *yaml.Node, v any, known ...string) error {
	if n.Kind != yaml.MappingNode {
		return &awsiam.FixtureError{Line: n.Line, Msg: "want a mapping"}
	}
	for k := 0; k+1 < len(n.Content); k += 2 {
		if key := n.Content[k]; !slices.Contains(known, key.Value) {
			return &awsiam.FixtureError{Line: key.Line, Msg: fmt.Sprintf("unknown field %q (known: %s)", key.Value, strings.Join(known, ", "))}
		}
	}
	return n.Decode(v)
}

// GCSBucketFixture is a Cloud Storage bucket a Google fixture declares
// under its project:
//
//	projects:
//	  - id: idlab
//	    buckets:
//	      - {name: team-a-data, objects: {hello.txt: hi}}
type GCSBucketFixture struct {
	Project string
	Name    string
	Objects map[string]string
}

// LoadGCSBuckets reads the buckets of the Google fixture file or directory
// at path; gcpiam reads the rest of the same files.
func LoadGCSBuckets(path string) ([]GCSBucketFixture, error) {
	files, err := awsiam.FixtureFiles(path)
	if err != nil {
		return nil, err
	}
	var out []GCSBucketFixture
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("fixtures: %w", err)
		}
		var doc struct {
			Projects []struct {
				ID      string      `yaml:"id"`
				Buckets []yaml.Node `yaml:"buckets"`
			} `yaml:"projects"`
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, p := range doc.Projects {
			for _, n := range p.Buckets {
				var b struct {
					Name    string            `yaml:"name"`
					Objects map[string]string `yaml:"objects"`
				}
				if err := decodeKnown(&n, &b, "name", "objects"); err != nil {
					return nil, &awsiam.FixtureError{File: f, Line: errLine(err, n.Line), Msg: "bucket: " + msgOf(err)}
				}
				if !bucketName.MatchString(b.Name) {
					return nil, &awsiam.FixtureError{File: f, Line: n.Line, Msg: fmt.Sprintf("bucket name %q: want 3-63 lower-case letters, digits, dots, hyphens and underscores", b.Name)}
				}
				out = append(out, GCSBucketFixture{Project: p.ID, Name: b.Name, Objects: b.Objects})
			}
		}
	}
	return out, nil
}
