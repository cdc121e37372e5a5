package eksauth

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/idlab/idlab/internal/fixtureyaml"
)

// FixtureError is a bad fixture, located at file:line.
type FixtureError = fixtureyaml.Error

// LoadFixtures loads clusters and pod identity associations from a YAML
// file, or every *.yaml / *.yml of a directory in name order:
//
//	clusters:
//	  - name: lab
//	    account: "111111111111"
//	    region: us-west-2            # defaults to Options.Region
//	    issuerURL: https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE
//	podIdentityAssociations:
//	  - clusterName: lab
//	    namespace: team-a
//	    serviceAccount: app
//	    roleArn: arn:aws:iam::111111111111:role/app
//	    targetRoleArn: arn:aws:iam::222222222222:role/x   # optional
//	    externalId: ...                                   # optional
//	    disableSessionTags: false                         # optional
//	    id: a-0123456789abcdefg                           # optional
//
// Errors name file:line; unknown fields are errors.
func (h *Handler) LoadFixtures(path string) error {
	return fixtureyaml.Load(path, "eks-auth", h.LoadFixtureYAML)
}

type fixtureDoc struct {
	Clusters     []yaml.Node `yaml:"clusters"`
	Associations []yaml.Node `yaml:"podIdentityAssociations"`
}

var (
	clusterFields = map[string]bool{"name": true, "account": true, "region": true, "issuerURL": true}
	assocFields   = map[string]bool{"id": true, "clusterName": true, "namespace": true, "serviceAccount": true,
		"roleArn": true, "targetRoleArn": true, "externalId": true, "disableSessionTags": true}
	docFields = map[string]bool{"clusters": true, "podIdentityAssociations": true}
)

// LoadFixtureYAML loads one fixture document; name labels errors.
func (h *Handler) LoadFixtureYAML(name string, raw []byte) error {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return &FixtureError{File: name, Line: fixtureyaml.ErrLine(err), Msg: err.Error(), Err: err}
	}
	if len(root.Content) == 0 {
		return nil
	}
	at := func(line int, err error) error {
		return &FixtureError{File: name, Line: line, Msg: err.Error(), Err: err}
	}
	var doc fixtureDoc
	if err := decodeStrict(root.Content[0], docFields, &doc); err != nil {
		return at(lineOf(err, root.Content[0].Line), err)
	}
	for i := range doc.Clusters {
		n := &doc.Clusters[i]
		var c Cluster
		if err := decodeStrict(n, clusterFields, &c); err != nil {
			return at(lineOf(err, n.Line), err)
		}
		if h.hasCluster(c) {
			continue // restored from DataDir: loading the fixtures again is no change
		}
		if err := h.AddCluster(c); err != nil {
			return at(n.Line, err)
		}
	}
	for i := range doc.Associations {
		n := &doc.Associations[i]
		var a Association
		if err := decodeStrict(n, assocFields, &a); err != nil {
			return at(lineOf(err, n.Line), err)
		}
		if h.hasAssociation(a) {
			continue
		}
		if _, err := h.AddAssociation(a); err != nil {
			return at(n.Line, err)
		}
	}
	return nil
}

// hasCluster reports whether c is registered already, as is (the emulator
// restarted over its DataDir with the same fixtures).
func (h *Handler) hasCluster(c Cluster) bool {
	if c.Region == "" {
		c.Region = h.region
	}
	old, ok := h.cluster(c.Name)
	return ok && old == c
}

// hasAssociation reports whether a is registered already: same service
// account, roles and tag setting, and the same ID when the fixture names
// one (a generated ID differs run to run).
func (h *Handler) hasAssociation(a Association) bool {
	old, ok := h.association(a.ClusterName, a.Namespace, a.ServiceAccount)
	return ok && old.RoleARN == a.RoleARN && old.TargetRoleARN == a.TargetRoleARN && old.DisableSessionTags == a.DisableSessionTags &&
		(a.ID == "" || a.ID == old.ID) && (a.ExternalID == "" || a.ExternalID == old.ExternalID)
}

// lineError carries the line of the offending key.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return e.msg }

func decodeStrict(n *yaml.Node, allowed map[string]bool, v any) error {
	if n.Kind != yaml.MappingNode {
		return &lineError{line: n.Line, msg: "want a mapping"}
	}
	for k := 0; k+1 < len(n.Content); k += 2 {
		if key := n.Content[k]; !allowed[key.Value] {
			return &lineError{line: key.Line, msg: fmt.Sprintf("unknown field %q", key.Value)}
		}
	}
	return n.Decode(v)
}

func lineOf(err error, fallback int) int {
	var le *lineError
	if errors.As(err, &le) {
		return le.line
	}
	if l := fixtureyaml.ErrLine(err); l > 0 {
		return l
	}
	return fallback
}
