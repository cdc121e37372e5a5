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
		{from: module + "/internal/", forbidden: []string{module + "/emulators/", module + "/harness", module + "/cmd/", module + "/scenarios/", module + "/idlabtest"}},
		{from: module + "/emulators/", forbidden: []string{module + "/harness", module + "/cmd/", module + "/scenarios/", module + "/idlabtest", "sigs.k8s.io/kind"}},
		// Emulators speak the wire protocol themselves rather than through a
		// cloud SDK. Only direct imports count: fake-gcs-server, embedded by
		// emulators/gcs, itself imports the storage client.
		{from: module + "/emulators/", forbidden: cloudSDKs, direct: true, except: sdkClients},
		{from: module + "/harness", forbidden: []string{module + "/cmd/", module + "/scenarios/", module + "/idlabtest"}},
		// The test kit is for other modules' tests: it builds on the public
		// packages only, so nothing it returns is a type they cannot name,
		// and the lab's own packages never build on it.
		{from: module + "/idlabtest", forbidden: []string{module + "/cmd/", module + "/scenarios/", module + "/internal/"}, direct: true},
		// Scenarios use the public APIs (harness, emulators) and their own
		// helpers, never the module's internal packages; harness's own
		// dependencies on them do not count.
		{from: module + "/scenarios/", forbidden: []string{module + "/cmd/", module + "/internal/"}, direct: true},
	}
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Imports,Deps", module+"/...").Output()
	require.NoError(t, err, "go list")
	dec := json.NewDecoder(bytes.NewReader(out))
	var violations []string
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		for _, r := range rules() {
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
				for _, f := range r.forbidden {
					if strings.HasPrefix(d, f) && !isScenarioInternal(p.ImportPath, d) {
						violations = append(violations, p.ImportPath+" -> "+d)
					}
				}
			}
		}
	}
	require.Empty(t, violations, "imports must point cmd -> harness -> emulators -> internal")
}

// isScenarioInternal allows scenarios to use their own internal helpers
// (scenarios/internal/probe) while forbidding the module's internal/.
func isScenarioInternal(from, dep string) bool {
	return strings.HasPrefix(from, module+"/scenarios/") && strings.HasPrefix(dep, module+"/scenarios/")
}

func TestRulesCatchAViolation(t *testing.T) {
	// The matcher itself must flag a forbidden edge; guards against a rule
	// table that silently matches nothing.
	r := rules()[2]
	hit := false
	for _, f := range r.forbidden {
		if strings.HasPrefix("github.com/aws/aws-sdk-go-v2/service/sts", f) {
			hit = true
		}
	}
	require.True(t, hit)
	require.True(t, strings.HasPrefix(module+"/emulators/awssts", r.from))
}
