package awssns

import (
	"context"
	"fmt"
	"regexp"

	"gopkg.in/yaml.v3"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/fixtureyaml"
	"github.com/idlab/idlab/internal/lazyre"
)

// TopicFixture is one topic a fixture declares beside its account's IAM
// entities (the files awsiam loads):
//
//	accounts:
//	  - id: "123456789012"
//	    topics:
//	      - name: uploads
//	        region: us-west-2   # default: the loader's default region
//	        policy: {...}       # topic policy; default: AWS's default policy
type TopicFixture struct {
	Account string
	Name    string
	Region  string
	Policy  *awsiam.Policy
}

type topicYAML struct {
	Name   string    `yaml:"name"`
	Region string    `yaml:"region"`
	Policy yaml.Node `yaml:"policy"`
}

var (
	fixtureTopicName = lazyre.New(`^[A-Za-z0-9_-]{1,256}(\.fifo)?$`)
	regionName       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
)

// ParseFixtures reads the topics of the fixture file or directory at path;
// a topic without a region gets defaultRegion. Errors name file:line; a
// topic declared twice in one account and region is one.
func ParseFixtures(path, defaultRegion string) ([]TopicFixture, error) {
	var out []TopicFixture
	seen := map[string]string{} // account/region/name -> file:line
	err := fixtureyaml.Load(path, "sns", func(file string, raw []byte) error {
		var doc struct {
			Accounts []struct {
				ID     string      `yaml:"id"`
				Topics []yaml.Node `yaml:"topics"`
			} `yaml:"accounts"`
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		at := func(line int, format string, args ...any) error {
			return &fixtureyaml.Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
		}
		for _, a := range doc.Accounts {
			for _, n := range a.Topics {
				var t topicYAML
				if err := fixtureyaml.DecodeKnown(&n, &t, "name", "region", "policy"); err != nil {
					line, msg := fixtureyaml.At(err, n.Line)
					return at(line, "topic: %s", msg)
				}
				if !fixtureTopicName.MatchString(t.Name) {
					return at(n.Line, "topic name %q: want 1-256 letters, digits, hyphens and underscores (.fifo suffix allowed)", t.Name)
				}
				region := t.Region
				if region == "" {
					region = defaultRegion
				}
				if !regionName.MatchString(region) {
					return at(n.Line, "topic %q: region %q is not a region name such as us-west-2", t.Name, region)
				}
				key := a.ID + "/" + region + "/" + t.Name
				if first, dup := seen[key]; dup {
					return at(n.Line, "topic %q of account %s in %s is declared twice (first at %s)", t.Name, a.ID, region, first)
				}
				seen[key] = fmt.Sprintf("%s:%d", file, n.Line)
				tf := TopicFixture{Account: a.ID, Name: t.Name, Region: region}
				if !t.Policy.IsZero() {
					var err error
					if tf.Policy, err = awsiam.PolicyFromYAML(&t.Policy); err != nil {
						return at(t.Policy.Line, "topic %q policy: %v", t.Name, err)
					}
				}
				out = append(out, tf)
			}
		}
		return nil
	})
	return out, err
}

// LoadFixtures creates the topics the fixtures at path declare
// (ParseFixtures, with Options.Region as the default region). It is
// idempotent, so a restart over the same DataDir keeps the subscriptions
// clients made.
func (h *Handler) LoadFixtures(ctx context.Context, path string) error {
	topics, err := ParseFixtures(path, h.region)
	if err != nil {
		return err
	}
	for _, t := range topics {
		if _, err := h.CreateTopic(ctx, t.Account, t.Region, t.Name, t.Policy); err != nil {
			return fmt.Errorf("fixture topic %s: %w", t.Name, err)
		}
	}
	return nil
}
