package depcheck

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/idlab/idlab"

// pkg is what go list says of one package. Imports and Deps leave out the
// package's _test.go files, so a test may import what its package may not.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// rule forbids packages under from from depending on any import path with one
// of the prefixes in forbidden: transitively, or only by a direct import
// when direct is set.
type rule struct {
	from      string
	forbidden []string
	direct    bool
	except    []string // packages under from the rule leaves alone
	allow     []string // imports the rule permits though forbidden matches them
}

// sdkClients are in-cluster components that are clients of a cloud, not
// emulations of one, and whose upstream is itself built on that cloud's SDK:
// kube2iam assumes roles with the node's instance credentials through
// aws-sdk-go-v2 as jtblin/kube2iam does through aws-sdk-go. No emulator's
// answers are checked through them.
var sdkClients = []string{module + "/components/kube2iam"}

var cloudSDKs = []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/aws-sdk-go", "cloud.google.com/go", "github.com/Azure/azure-sdk-for-go", "google.golang.org/api"}

func rules() []rule {
	return []rule{
		{from: module + "/internal/", forbidden: []string{module + "/components/", module + "/emulators/", module + "/harness", module + "/cmd/", module + "/scenarios/", module + "/idlabtest", module + "/testcontainers/"}},
		// Cloud-side services and in-cluster components are two layers side
		// by side: neither builds on the other. A component's tests may
		// still run it against an emulator (Deps leaves tests out).
		{from: module + "/emulators/", forbidden: []string{module + "/components/", module + "/harness", module + "/cmd/", module + "/scenarios/", module + "/idlabtest", module + "/testcontainers/", "sigs.k8s.io/kind"}},
		{from: module + "/components/", forbidden: []string{module + "/emulators/", module + "/harness", module + "/cmd/", module + "/scenarios/", module + "/idlabtest", module + "/testcontainers/", "sigs.k8s.io/kind"}},
		// Emulators and components speak the wire protocol themselves
		// rather than through a cloud SDK. Only direct imports count:
		// fake-gcs-server, embedded by emulators/gcs, itself imports the
		// storage client.
		{from: module + "/emulators/", forbidden: cloudSDKs, direct: true},
		{from: module + "/components/", forbidden: cloudSDKs, direct: true, except: sdkClients},
		{from: module + "/harness", forbidden: []string{module + "/cmd/", module + "/scenarios/", module + "/idlabtest", module + "/testcontainers/"}},
		// The test kit is for other modules' tests: it builds on the public
		// packages only, so nothing it returns is a type they cannot name,
		// and the lab's own packages never build on it. Its SDK configs
		// share their retryer (an aws.Retryer) with testcontainers/idlab.
		{from: module + "/idlabtest", forbidden: []string{module + "/cmd/", module + "/scenarios/", module + "/internal/"}, direct: true,
			allow: []string{module + "/internal/sdkretry"}},
		// Scenarios use the public APIs (harness, components, emulators)
		// and their own helpers, never the module's internal packages;
		// harness's own dependencies on them do not count.
		{from: module + "/scenarios/", forbidden: []string{module + "/cmd/", module + "/internal/"}, direct: true},
		// gtoken's token writer runs under upstream's 50Mi memory limit
		// (components/gtokenwriter): its binary links the metadata client
		// and nothing of Kubernetes, AWS or the lab.
		{from: module + "/cmd/gtoken", forbidden: []string{"k8s.io/", "sigs.k8s.io/", "github.com/aws/", "github.com/Azure/",
			module + "/harness", module + "/emulators/", module + "/components/gtoken", module + "/internal/"},
			allow: []string{module + "/components/gtokenwriter"}},
		// The testcontainers module drives the emulator in its container
		// over the wire: it links no emulator, harness or Kubernetes code,
		// so a user's test binary stays small.
		{from: module + "/testcontainers/", forbidden: []string{module + "/cmd/", module + "/scenarios/", module + "/idlabtest",
			module + "/harness", module + "/emulators/", module + "/components/", "sigs.k8s.io/kind", "k8s.io/"}},
	}
}

// violations lists p's edges that one of rs forbids, as "from -> to".
func violations(p pkg, rs []rule) []string {
	var out []string
	for _, r := range rs {
		if !strings.HasPrefix(p.ImportPath+"/", r.from) && !strings.HasPrefix(p.ImportPath, r.from) {
			continue
		}
		if slices.Contains(r.except, p.ImportPath) {
			continue
		}
		deps := p.Deps
		if r.direct {
			deps = p.Imports
		}
		for _, d := range deps {
			hit := slices.ContainsFunc(r.forbidden, func(f string) bool { return strings.HasPrefix(d, f) }) && !slices.Contains(r.allow, d)
			if hit && !isScenarioInternal(p.ImportPath, d) {
				out = append(out, p.ImportPath+" -> "+d)
			}
		}
	}
	return out
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Imports,Deps", module+"/...").Output()
	require.NoError(t, err, "go list")
	dec := json.NewDecoder(bytes.NewReader(out))
	var found []string
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		found = append(found, violations(p, rules())...)
	}
	require.Empty(t, found, "imports must point cmd -> harness -> (components, emulators) -> internal")
}

// isScenarioInternal allows scenarios to use their own internal helpers
// (scenarios/kit/probe) while forbidding the module's internal/.
func isScenarioInternal(from, dep string) bool {
	return strings.HasPrefix(from, module+"/scenarios/") && strings.HasPrefix(dep, module+"/scenarios/")
}

// TestRulesCatchAViolation: the rule table flags each forbidden edge and
// passes each allowed one; guards against a rule that silently matches
// nothing, or too much.
func TestRulesCatchAViolation(t *testing.T) {
	tests := []struct {
		name string
		p    pkg
		want []string
	}{
		{name: "emulator imports a cloud SDK",
			p:    pkg{ImportPath: module + "/emulators/awssts", Imports: []string{"github.com/aws/aws-sdk-go-v2/service/sts"}},
			want: []string{module + "/emulators/awssts -> github.com/aws/aws-sdk-go-v2/service/sts"}},
		{name: "emulator depends on an SDK only through a library",
			p: pkg{ImportPath: module + "/emulators/gcs", Imports: []string{"github.com/fsouza/fake-gcs-server/fakestorage"},
				Deps: []string{"github.com/fsouza/fake-gcs-server/fakestorage", "cloud.google.com/go/storage"}}},
		{name: "component imports a cloud SDK",
			p:    pkg{ImportPath: module + "/components/eksagent", Imports: []string{"github.com/aws/aws-sdk-go-v2/aws"}},
			want: []string{module + "/components/eksagent -> github.com/aws/aws-sdk-go-v2/aws"}},
		{name: "kube2iam is a client of AWS through its SDK",
			p: pkg{ImportPath: module + "/components/kube2iam", Imports: []string{"github.com/aws/aws-sdk-go-v2/service/sts"}}},
		{name: "component imports an emulator",
			p:    pkg{ImportPath: module + "/components/eksagent", Imports: []string{module + "/emulators/eksauth"}, Deps: []string{module + "/emulators/eksauth"}},
			want: []string{module + "/components/eksagent -> " + module + "/emulators/eksauth"}},
		{name: "component depends on an emulator through another package",
			p:    pkg{ImportPath: module + "/components/gtoken", Imports: []string{module + "/components/irsawebhook"}, Deps: []string{module + "/components/irsawebhook", module + "/emulators/awssts"}},
			want: []string{module + "/components/gtoken -> " + module + "/emulators/awssts"}},
		{name: "emulator imports a component",
			p:    pkg{ImportPath: module + "/emulators/eksauth", Imports: []string{module + "/components/eksagent"}, Deps: []string{module + "/components/eksagent"}},
			want: []string{module + "/emulators/eksauth -> " + module + "/components/eksagent"}},
		{name: "component imports the harness",
			p:    pkg{ImportPath: module + "/components/irsawebhook", Deps: []string{module + "/harness"}},
			want: []string{module + "/components/irsawebhook -> " + module + "/harness"}},
		{name: "internal imports a component",
			p:    pkg{ImportPath: module + "/internal/nodeagent", Deps: []string{module + "/components/kube2iam"}},
			want: []string{module + "/internal/nodeagent -> " + module + "/components/kube2iam"}},
		{name: "component imports internal and another component",
			p: pkg{ImportPath: module + "/components/gtoken", Imports: []string{module + "/internal/admission", module + "/components/irsawebhook"},
				Deps: []string{module + "/internal/admission", module + "/components/irsawebhook", module + "/internal/certs"}}},
		{name: "harness imports components and emulators",
			p: pkg{ImportPath: module + "/harness", Imports: []string{module + "/components/irsawebhook", module + "/emulators/awsiam"},
				Deps: []string{module + "/components/irsawebhook", module + "/emulators/awsiam"}}},
		{name: "scenario imports a component and its own helpers",
			p: pkg{ImportPath: module + "/scenarios/azure", Imports: []string{module + "/components/azurewebhook", module + "/scenarios/kit/labenv"}}},
		{name: "testcontainers module links an emulator",
			p:    pkg{ImportPath: module + "/testcontainers/idlab", Deps: []string{module + "/harness/cloud", module + "/emulators/awssts"}},
			want: []string{module + "/testcontainers/idlab -> " + module + "/harness/cloud", module + "/testcontainers/idlab -> " + module + "/emulators/awssts"}},
		{name: "the test kit shares the SDK retryer",
			p: pkg{ImportPath: module + "/idlabtest", Imports: []string{module + "/internal/sdkretry", module + "/emulators/awssts"}}},
		{name: "the test kit imports another internal package",
			p:    pkg{ImportPath: module + "/idlabtest", Imports: []string{module + "/internal/sdkretry", module + "/internal/decisionlog"}},
			want: []string{module + "/idlabtest -> " + module + "/internal/decisionlog"}},
		{name: "testcontainers module uses internal and the SDK",
			p: pkg{ImportPath: module + "/testcontainers/idlab", Deps: []string{module + "/internal/decisionlog", "github.com/aws/aws-sdk-go-v2/aws", "github.com/testcontainers/testcontainers-go"}}},
		{name: "harness imports the testcontainers module",
			p:    pkg{ImportPath: module + "/harness", Deps: []string{module + "/testcontainers/idlab"}},
			want: []string{module + "/harness -> " + module + "/testcontainers/idlab"}},
		{name: "scenario imports the module's internal",
			p:    pkg{ImportPath: module + "/scenarios/azure", Imports: []string{module + "/internal/certs"}},
			want: []string{module + "/scenarios/azure -> " + module + "/internal/certs"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, violations(tc.p, rules()))
		})
	}
}
