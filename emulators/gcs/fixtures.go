package gcs

import (
	"context"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/idlab/idlab/internal/fixtureyaml"
	"github.com/idlab/idlab/internal/lazyre"
)

// BucketFixture is a bucket a Google fixture declares under its project
// (the files gcpiam loads):
//
//	projects:
//	  - id: idlab
//	    buckets:
//	      - {name: team-a-data, objects: {hello.txt: hi}}
type BucketFixture struct {
	Project string
	Name    string
	Objects map[string]string
}

var fixtureBucketName = lazyre.New(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ParseFixtures reads the buckets of the Google fixture file or directory
// at path; gcpiam reads the rest of the same files. Errors name file:line;
// a bucket name declared twice is one.
func ParseFixtures(path string) ([]BucketFixture, error) {
	var out []BucketFixture
	seen := map[string]string{} // bucket -> file:line of its first declaration
	err := fixtureyaml.Load(path, "gcs", func(file string, raw []byte) error {
		var doc struct {
			Projects []struct {
				ID      string      `yaml:"id"`
				Buckets []yaml.Node `yaml:"buckets"`
			} `yaml:"projects"`
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		for _, p := range doc.Projects {
			for _, n := range p.Buckets {
				var b struct {
					Name    string            `yaml:"name"`
					Objects map[string]string `yaml:"objects"`
				}
				if err := fixtureyaml.DecodeKnown(&n, &b, "name", "objects"); err != nil {
					line, msg := fixtureyaml.At(err, n.Line)
					return &fixtureyaml.Error{File: file, Line: line, Msg: "bucket: " + msg}
				}
				if !fixtureBucketName.MatchString(b.Name) {
					return &fixtureyaml.Error{File: file, Line: n.Line, Msg: fmt.Sprintf("bucket name %q: want 3-63 lower-case letters, digits, dots, hyphens and underscores", b.Name)}
				}
				if first, dup := seen[b.Name]; dup {
					return &fixtureyaml.Error{File: file, Line: n.Line, Msg: fmt.Sprintf("bucket %q is declared twice (first at %s)", b.Name, first)}
				}
				seen[b.Name] = fmt.Sprintf("%s:%d", file, n.Line)
				out = append(out, BucketFixture{Project: p.ID, Name: b.Name, Objects: b.Objects})
			}
		}
		return nil
	})
	return out, err
}

// LoadFixtures creates the buckets and objects the Google fixtures at path
// declare (ParseFixtures). It is idempotent: a bucket that exists is kept.
func (h *Handler) LoadFixtures(ctx context.Context, path string) error {
	buckets, err := ParseFixtures(path)
	if err != nil {
		return err
	}
	for _, b := range buckets {
		if err := h.CreateBucket(ctx, b.Project, b.Name); err != nil {
			return fmt.Errorf("fixture bucket gs://%s: %w", b.Name, err)
		}
		for name, text := range b.Objects {
			if err := h.PutObject(ctx, b.Name, name, []byte(text), "text/plain"); err != nil {
				return fmt.Errorf("fixture object gs://%s/%s: %w", b.Name, name, err)
			}
		}
	}
	return nil
}
