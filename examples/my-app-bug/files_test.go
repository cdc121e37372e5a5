package myappbug_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/idlab/idlab/harness/iamimport"
	"github.com/idlab/idlab/scenarios/kit/labenv"
)

// The user's files, as they brought them.
const (
	deploymentFile = "deployment.yaml"
	roleFile       = "iam/role.json"          // aws iam get-role --role-name my-app
	rolePolicyFile = "iam/role-policy.json"   // aws iam get-role-policy --role-name my-app --policy-name read-invoices
	providerFile   = "iam/oidc-provider.json" // aws iam get-open-id-connect-provider --open-id-connect-provider-arn ...
	fixFile        = "fix/trust-policy.json"  // for aws iam update-assume-role-policy --policy-document file://...
)

// app is what deployment.yaml deploys: everything the tests need is read
// from it, so editing the file changes what they expect.
type app struct {
	objs           []runtime.Object
	namespace      string
	serviceAccount string
	roleARN        string // the service account's eks.amazonaws.com/role-arn
	deployment     string
	container      string
	image          string
}

// subject is the sub claim of the app's service-account tokens.
func (a app) subject() string {
	return "system:serviceaccount:" + a.namespace + ":" + a.serviceAccount
}

func readApp(t *testing.T) app {
	t.Helper()
	raw, err := os.ReadFile(deploymentFile)
	require.NoError(t, err)
	objs, err := labenv.DecodeManifest(raw)
	require.NoError(t, err)
	a := app{objs: objs}
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.ServiceAccount:
			a.roleARN = o.Annotations["eks.amazonaws.com/role-arn"]
		case *appsv1.Deployment:
			spec := o.Spec.Template.Spec
			require.Len(t, spec.Containers, 1, "the app has one container")
			a.namespace, a.deployment, a.serviceAccount = o.Namespace, o.Name, spec.ServiceAccountName
			a.container, a.image = spec.Containers[0].Name, spec.Containers[0].Image
		}
	}
	require.NotEmpty(t, a.deployment, "%s holds a Deployment", deploymentFile)
	require.NotEmpty(t, a.roleARN, "%s holds the service account annotated with its role", deploymentFile)
	return a
}

// trust is the one statement of a trust policy as its conditions say it.
type trust struct {
	provider string // the Federated principal: an IAM OIDC provider ARN
	host     string // the issuer without https://, as condition keys name it
	sub, aud string // its StringEquals host:sub and host:aud
}

func parseTrust(t *testing.T, doc string) trust {
	t.Helper()
	var p struct {
		Statement []struct {
			Principal struct{ Federated string }
			Action    string
			Condition map[string]map[string]string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(doc), &p))
	require.Len(t, p.Statement, 1)
	s := p.Statement[0]
	require.Equal(t, "sts:AssumeRoleWithWebIdentity", s.Action)
	_, host, ok := strings.Cut(s.Principal.Federated, ":oidc-provider/")
	require.True(t, ok, "principal %s is an OIDC provider", s.Principal.Federated)
	eq := s.Condition["StringEquals"]
	return trust{provider: s.Principal.Federated, host: host, sub: eq[host+":sub"], aud: eq[host+":aud"]}
}

// iamFiles are the role as awscli printed it, parsed by idlab iam import's
// own parser, and the plan it makes of them.
func iamFiles(t *testing.T) (*iamimport.Role, *iamimport.Plan) {
	t.Helper()
	var files []*iamimport.File
	for _, name := range []string{roleFile, rolePolicyFile, providerFile} {
		raw, err := os.ReadFile(name)
		require.NoError(t, err)
		f, err := iamimport.Parse(name, raw)
		require.NoError(t, err, "idlab iam import reads %s", name)
		files = append(files, f)
	}
	require.Equal(t, iamimport.KindRole, files[0].Kind)
	plan, err := iamimport.Build(files, iamimport.Options{})
	require.NoError(t, err)
	return files[0].Role, plan
}

func readFix(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(fixFile)
	require.NoError(t, err)
	return string(raw)
}

// subMismatch is how the lab's decision, and idlab explain after it, names
// the condition that refused the app: the trust policy's sub against the
// token's.
func subMismatch(host, want, got string) string {
	return fmt.Sprintf("StringEquals %s:sub wants %q, got %q", host, want, got)
}

// The app's log: `aws sts get-caller-identity --query Arn --output text`
// prints the caller's ARN, or the CLI's error line.
var (
	arnLine   = regexp.MustCompile(`^arn:aws:sts::[0-9]{12}:assumed-role/\S+$`)
	errorLine = regexp.MustCompile(`An error occurred \(([A-Za-z0-9.]+)\) when calling the ([A-Za-z0-9]+) operation`)
)

// call is one call of the app's loop as its log shows it.
type call struct {
	ok        bool
	arn       string // on success
	code      string // the AWS error code, on failure
	operation string // the operation that failed: AssumeRoleWithWebIdentity when STS refused the token
}

// calls reads the app's log, oldest first.
func calls(log string) []call {
	var out []call
	for _, l := range strings.Split(log, "\n") {
		l = strings.TrimSpace(l)
		if arnLine.MatchString(l) {
			out = append(out, call{ok: true, arn: l})
		} else if m := errorLine.FindStringSubmatch(l); m != nil {
			out = append(out, call{code: m[1], operation: m[2]})
		}
	}
	return out
}
