package awserrcodes_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/awserrcodes"
)

// service is one AWS emulator and what documents the codes it may answer.
type service struct {
	name     string
	packages []string // the emulator; the module's packages they import are scanned too
	sinks    []string // shared error types whose Code goes on this service's wire
	// model is the botocore service model, "" for a service botocore does
	// not model (EC2's instance metadata); fallback, a testdata list of the
	// model's codes used where Debian's botocore predates the service.
	model, fallback string
	// lists are testdata lists of codes AWS documents for the service.
	lists []string
	// allow holds codes the real service answers that neither its model
	// nor AWS's lists document, each with the public record of the real
	// service answering it. An entry the emulator no longer answers, or
	// that a model or list already covers, fails the test.
	allow map[string]string
}

var services = []service{
	{name: "STS", packages: []string{module + "/emulators/awssts"}, sinks: []string{awsxmlCode},
		model: "sts", lists: []string{"common-errors.txt"},
		allow: map[string]string{
			// STS refuses a caller its trust or identity policies do not
			// allow with 403 AccessDenied ("Not authorized to perform
			// sts:AssumeRoleWithWebIdentity", "User: ... is not authorized
			// to perform: sts:AssumeRole"); the common list has only
			// AccessDeniedException.
			"AccessDenied": "https://github.com/sentry-kubernetes/charts/issues/514 (AssumeRoleWithWebIdentity); " +
				"https://github.com/amzn/selling-partner-api-models/issues/2523 (AssumeRole, Sender AccessDenied)",
			// Expired session credentials: 403 ExpiredToken "The security
			// token included in the request is expired" (the common list
			// has ExpiredTokenException, which STS's model keeps for an
			// expired web identity token).
			"ExpiredToken": "https://github.com/aws/aws-cli/issues/7870 (GetCallerIdentity); " +
				"https://github.com/cfn-sphere/cfn-sphere/issues/55 (the query API's ErrorResponse, from IAM)",
			// A bad or expired SigV4 signature.
			"SignatureDoesNotMatch": "https://github.com/aws/aws-cli/issues/6676 (GetCallerIdentity: Signature expired)",
		}},
	{name: "SNS", packages: []string{module + "/emulators/awssns"}, sinks: []string{awsxmlCode},
		model: "sns", lists: []string{"common-errors.txt"},
		allow: map[string]string{
			// SNS is served by the same query-protocol front end as STS,
			// IAM and SQS, which answer expired session credentials with
			// 403 ExpiredToken. No public record of SNS itself answering
			// it was found; SNS's own Common Error Types page lists
			// ExpiredTokenException.
			"ExpiredToken": "https://aws.amazon.com/premiumsupport/knowledge-center/security-token-expired/ (SQS: Error Code: ExpiredToken); " +
				"https://github.com/aws/aws-cli/issues/7870 (STS)",
			"SignatureDoesNotMatch": "https://github.com/aws/aws-sdk-js/issues/265 (sns.publish: Signature expired); " +
				"https://github.com/aws/aws-sdk-js/issues/1174 (sns.createPlatformEndpoint)",
		}},
	{name: "IAM", packages: []string{module + "/emulators/awsiamapi"}, sinks: []string{awsxmlCode},
		model: "iam", lists: []string{"common-errors.txt"},
		allow: map[string]string{
			// IAM refuses a caller its policies do not allow with 403
			// AccessDenied ("User: ... is not authorized to perform:
			// iam:..."); the common list has only AccessDeniedException.
			"AccessDenied": "https://github.com/aws/aws-cdk/issues/27067 (iam:CreateRole); " +
				"https://github.com/galaxyproject/cloudlaunch/issues/175 (iam)",
			// Expired session credentials, as for STS.
			"ExpiredToken": "https://github.com/cfn-sphere/cfn-sphere/issues/55 (the query API's ErrorResponse, from IAM)",
			// A bad or expired SigV4 signature.
			"SignatureDoesNotMatch": "https://github.com/aws/aws-sdk-js-v3/issues/2651 (IAM); " +
				"https://github.com/aws/aws-cli/issues/5341 (iam)",
		}},
	{name: "S3", packages: []string{module + "/emulators/awss3"},
		model: "s3", lists: []string{"s3-error-codes.txt"},
		allow: map[string]string{
			// Answers to aws-chunked bodies, which the S3 error list does
			// not document.
			"InvalidChunkSizeError": "https://github.com/versity/versitygw/issues/1683 (S3's answer, with its Chunk and BadChunkSize elements)",
			"MalformedTrailerError": "https://github.com/scality/Arsenal/pull/2596 (\"AWS returns the following error\")",
			// A payload whose SHA-256 is not x-amz-content-sha256.
			"XAmzContentSHA256Mismatch": "https://github.com/s3tools/s3cmd/issues/812 (server: AmazonS3); " +
				"https://github.com/postmanlabs/postman-app-support/issues/3680",
		}},
	{name: "EKS Auth", packages: []string{module + "/emulators/eksauth"},
		model: "eks-auth", fallback: "eks-auth-model-errors.txt", lists: []string{"common-errors.txt"},
		allow: map[string]string{
			// The authentication codes of AWS's JSON front ends, their
			// names for the query protocol's IncompleteSignature,
			// MissingAuthenticationToken and SignatureDoesNotMatch.
			"IncompleteSignatureException":        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html (DynamoDB's JSON front end)",
			"MissingAuthenticationTokenException": "https://github.com/common-voice/common-voice/issues/1599 (apigateway.us-east-2.amazonaws.com, a REST-JSON AWS API)",
			"InvalidSignatureException": "https://github.com/erlcloud/erlcloud/issues/690 (Lambda, REST-JSON: x-amzn-errortype InvalidSignatureException); " +
				"https://github.com/smithy545/aws-apps-scripts/issues/12",
		}},
	{name: "EC2 instance metadata", packages: []string{module + "/emulators/awsimds"},
		allow: map[string]string{
			// IMDS has no service model: the Code member of iam/info and
			// iam/security-credentials/ROLE is Success, or
			// AssumeRoleUnauthorizedAccess when EC2 cannot assume the
			// instance profile's role.
			"Success":                      "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-metadata-security-credentials.html (example output)",
			"AssumeRoleUnauthorizedAccess": "https://github.com/aws/aws-cli/issues/2060 (curl of iam/security-credentials/ROLE)",
		}},
}

// noWire are the AWS emulator packages that put no error code on a wire:
// they must declare no Code field, or they belong in services.
var noWire = map[string]string{
	module + "/emulators/awsauth": "authenticates SigV4 for the others, which spell its failures",
	module + "/emulators/awsiam":  "IAM's data model and policy engine; it serves no IAM API",
}

var (
	progOnce sync.Once
	prog     *awserrcodes.Program
	progErr  error
)

// program is every AWS emulator package (services and noWire) loaded
// once: the services share most of their code, so one load type-checks
// it once instead of once a service.
func program(t *testing.T) *awserrcodes.Program {
	t.Helper()
	progOnce.Do(func() {
		var pkgs []string
		for _, svc := range services {
			pkgs = append(pkgs, svc.packages...)
		}
		for p := range noWire {
			pkgs = append(pkgs, p)
		}
		prog, progErr = awserrcodes.Load(context.Background(), awserrcodes.Config{Dir: "../..", BuildFlags: buildFlags, Packages: pkgs})
	})
	require.NoError(t, progErr)
	return prog
}

// TestEmulatorCodesAreAWSCodes: every error code an AWS emulator can
// answer is in botocore's model of the service (Debian's python3-botocore),
// in a list AWS documents for it, or in the service's allowlist with the
// public record of the real service answering it.
func TestEmulatorCodesAreAWSCodes(t *testing.T) {
	dataDir := requireBotocore(t)
	for _, svc := range services {
		t.Run(svc.name, func(t *testing.T) {
			res, err := program(t).Scan(awserrcodes.Config{Packages: svc.packages, Sinks: svc.sinks})
			require.NoError(t, err)
			require.Empty(t, res.Unresolved, "values reaching %v that the scan cannot follow to a constant", res.Sinks)
			require.NotEmpty(t, res.Sites, "no codes found in %v: the sinks %v are wrong", svc.packages, res.Sinks)
			known := svc.known(t, dataDir)
			require.Empty(t, undocumented(res.Sites, known), "codes %s answers that neither botocore's %q model, %v nor its allowlist has",
				svc.name, svc.model, svc.lists)
			codes := res.Codes()
			for code := range svc.allow {
				require.Contains(t, codes, code, "allowlisted %s is no longer answered: drop it", code)
				require.NotContains(t, svc.documented(t, dataDir), code, "allowlisted %s is documented: drop it from the allowlist", code)
			}
			t.Log(summary(svc, codes, known))
		})
	}
}

// TestInventedCodeFails: the check fails on a code no model has, at the
// line that answers it, and passes the one the model has.
func TestInventedCodeFails(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(dir+"/sts/2011-06-15", 0o755))
	require.NoError(t, os.WriteFile(dir+"/sts/2011-06-15/service-2.json", []byte(`{"metadata": {"protocol": "query"},
	  "shapes": {"InvalidIdentityTokenException": {"exception": true, "error": {"code": "InvalidIdentityToken"}}}}`), 0o644))
	svc := service{name: "invented", packages: []string{"./testdata/invented"}, sinks: []string{awsxmlCode}, model: "sts", lists: []string{"common-errors.txt"}}

	res, err := awserrcodes.Scan(context.Background(), awserrcodes.Config{BuildFlags: buildFlags, Packages: svc.packages, Sinks: svc.sinks})
	require.NoError(t, err)
	bad := undocumented(res.Sites, svc.known(t, dir))
	require.Len(t, bad, 1)
	require.Contains(t, bad[0], "invented.go:12:")
	require.Contains(t, bad[0], "InventedCode")
}

// TestEveryAWSEmulatorIsChecked: each emulators/aws* and eks* package is
// a service above or declares no Code field, so a new AWS emulator cannot
// escape the check.
func TestEveryAWSEmulatorIsChecked(t *testing.T) {
	out, err := exec.Command("go", "list", module+"/emulators/...").Output()
	require.NoError(t, err, "go list")
	checked := map[string]bool{}
	for _, svc := range services {
		for _, p := range svc.packages {
			checked[p] = true
		}
	}
	for _, p := range strings.Fields(string(out)) {
		name := path.Base(p)
		if !strings.HasPrefix(name, "aws") && !strings.HasPrefix(name, "eks") || checked[p] {
			continue
		}
		_, ok := noWire[p]
		require.True(t, ok, "%s is an AWS emulator in neither services nor noWire", p)
		res, err := program(t).Scan(awserrcodes.Config{Packages: []string{p}})
		require.NoError(t, err)
		require.Empty(t, res.Sinks, "%s declares a Code field, so it answers error codes: add it to services", p)
	}
}

// TestListsParse: every testdata list parses, and the fallback list of a
// model is the model wherever Debian's botocore has it.
func TestListsParse(t *testing.T) {
	for _, name := range []string{"common-errors.txt", "s3-error-codes.txt", "eks-auth-model-errors.txt"} {
		l := readList(t, name)
		require.NotEmpty(t, l, name)
	}
	dataDir := requireBotocore(t)
	for _, svc := range services {
		if svc.fallback == "" {
			continue
		}
		m, err := awserrcodes.LoadModel(dataDir, svc.model)
		if errors.Is(err, fs.ErrNotExist) {
			t.Logf("%s: Debian's botocore has no %s model; %s stands in for it", svc.name, svc.model, svc.fallback)
			continue
		}
		require.NoError(t, err)
		require.ElementsMatch(t, slices.Collect(maps.Keys(m.Errors)), slices.Collect(maps.Keys(readList(t, svc.fallback))),
			"%s no longer matches botocore's %s model", svc.fallback, svc.model)
	}
}

// requireBotocore returns Debian's botocore data directory, or skips the
// test saying how to install it (with CI=true, hack/test.sh installs it
// and a skip fails the run).
func requireBotocore(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(awserrcodes.DebianBotocoreData + "/sts"); err != nil {
		t.Skipf("botocore's service models are not at %s (Debian's python3-botocore; hack/setup-test-tools.sh python3-botocore installs it): %v",
			awserrcodes.DebianBotocoreData, err)
	}
	return awserrcodes.DebianBotocoreData
}

// known is every code documented for svc, with where: its model's errors
// and documented codes, its lists, its allowlist.
func (svc service) known(t *testing.T, dataDir string) map[string]string {
	t.Helper()
	known := svc.documented(t, dataDir)
	for code, source := range svc.allow {
		known[code] = "allowlist: " + source
	}
	return known
}

// documented is svc's codes that a model or an AWS list documents.
func (svc service) documented(t *testing.T, dataDir string) map[string]string {
	t.Helper()
	known := map[string]string{}
	if svc.model != "" {
		m, err := awserrcodes.LoadModel(dataDir, svc.model)
		if errors.Is(err, fs.ErrNotExist) && svc.fallback != "" {
			for code := range readList(t, svc.fallback) {
				known[code] = "model (" + svc.fallback + ")"
			}
		} else {
			require.NoError(t, err)
			for code := range m.Errors {
				known[code] = "model"
			}
			for _, code := range m.Documented {
				if _, ok := known[code]; !ok {
					known[code] = "model documentation"
				}
			}
		}
	}
	for _, l := range svc.lists {
		for code := range readList(t, l) {
			if _, ok := known[code]; !ok {
				known[code] = l
			}
		}
	}
	return known
}

func readList(t *testing.T, name string) map[string]string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	defer f.Close()
	l, err := awserrcodes.ReadList(f)
	require.NoError(t, err, name)
	return l
}

// undocumented lists the sites of codes known lacks, as "file:line: code".
func undocumented(sites []awserrcodes.Site, known map[string]string) []string {
	var out []string
	for _, s := range sites {
		if _, ok := known[s.Code]; !ok {
			out = append(out, fmt.Sprintf("%s: %s", s.Pos, s.Code))
		}
	}
	return out
}

// summary says where each of codes is documented, for the test log.
func summary(svc service, codes []string, known map[string]string) string {
	by := map[string][]string{}
	for _, c := range codes {
		src := known[c]
		if strings.HasPrefix(src, "allowlist") {
			src = "allowlist"
		}
		by[src] = append(by[src], c)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d codes", svc.name, len(codes))
	for _, src := range slices.Sorted(maps.Keys(by)) {
		fmt.Fprintf(&b, "\n  %s (%d): %s", src, len(by[src]), strings.Join(by[src], " "))
	}
	return b.String()
}
