package storm

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/googleapi"

	"github.com/idlab/idlab/idlabtest"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

var update = flag.Bool("update", false, "rewrite fixtures/gcp/storm.yaml and fixtures/azure/storm.yaml from the generators")

// TestStormFixturesAreGenerated: the shipped storm fixtures are the
// generators' output, so nobody hand-edits 50 entries (and an edit of the
// generator shows in the files).
func TestStormFixturesAreGenerated(t *testing.T) {
	for _, f := range []struct {
		file string
		gen  func() []byte
	}{{GoogleFixtureFile, GoogleFixture}, {AzureFixtureFile, AzureFixture}} {
		t.Run(f.file, func(t *testing.T) {
			path := fixturecheck.Path(t, f.file)
			if *update {
				require.NoError(t, os.WriteFile(path, f.gen(), 0o644))
			}
			require.Equal(t, string(f.gen()), fixturecheck.Read(t, f.file),
				"fixtures/%s differs from its generator: go test ./scenarios/storm -run TestStormFixturesAreGenerated -update", f.file)
		})
	}
}

// TestStormConstantsAreTheLabs: the project, pool, tenant and issuers the
// generated fixtures name are the lab's (fixturecheck's, which its own
// test checks against harness), and lab.yaml holds the pool the storm's
// bindings name.
func TestStormConstantsAreTheLabs(t *testing.T) {
	require.Equal(t, fixturecheck.Issuer("gke"), GKEIssuer)
	require.Equal(t, fixturecheck.Issuer("aks"), AKSIssuer)
	require.Equal(t, fixturecheck.AzureTenant, AzureTenant)
	lab := fixturecheck.Read(t, "gcp/lab.yaml")
	require.Contains(t, lab, "- id: "+GooglePool+"\n        issuer: "+GKEIssuer+"\n")
	require.Contains(t, lab, "- id: "+GoogleProject+"\n    number: \""+GoogleProjectNumber+"\"")
	require.NotContains(t, fixturecheck.Read(t, "azure/lab.yaml"), "- name: "+StorageAccount+"\n", "the storm's storage account is its own")
}

// googleStorm runs pods 0..n-1 of the gke storm against g as the e2e test
// does, with the Google SDK: each KSA's token exchanged and its GSA
// impersonated (the metadata server's path), its own bucket read and the
// next pod's tried; then the decisions matched as the e2e test matches
// them.
func googleStorm(t *testing.T, g *idlabtest.Google, n int) []Pod {
	t.Helper()
	ctx := context.Background()
	results := make([]probe.StormResult, n)
	for i := range n {
		c := g.NewStorageClient(t, GooglePool, Namespace, Name(i), GSAEmail(i))
		read := func(bucket string) probe.Result {
			r, err := c.Bucket(bucket).Object(BlobName).NewReader(ctx)
			var ge *googleapi.Error
			switch {
			case errors.As(err, &ge):
				return probe.Result{ErrorCode: "HTTP" + strconv.Itoa(ge.Code)}
			case err != nil:
				return probe.Result{ErrorCode: "ClientError", ErrorMessage: err.Error()}
			}
			defer r.Close()
			b, err := io.ReadAll(r)
			require.NoError(t, err)
			return probe.Result{OK: true, Output: string(b)}
		}
		results[i] = probe.StormResult{Exchange: probe.Result{OK: true}, Own: read(GCSBucket(i)), Other: read(GCSBucket(Next(i, GKEPods)))}
	}
	var seen []Seen
	for _, d := range g.IAM.Handler().Decisions() {
		if d.Action == "storage.objects.get" {
			seen = append(seen, Seen{Key: GoogleKey(d.Principal, d.Resource), Decision: Decision{Principal: d.Principal, Effect: d.Effect}})
		}
	}
	byRead := Index(seen)
	pods := make([]Pod, n)
	for i, r := range results {
		own, other := GoogleReads(byRead, i, GKEPods)
		pods[i] = Pod{Index: i, Result: r, OwnDecision: own, OtherDecision: other}
	}
	return pods
}

// fixtureDir is a fixture directory holding the shipped lab.yaml of cloud
// and storm as the storm's file.
func fixtureDir(t *testing.T, cloud, storm string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lab.yaml"), []byte(fixturecheck.Read(t, cloud+"/lab.yaml")), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "storm.yaml"), []byte(storm), 0o600))
	return dir
}

// TestGKEStormRestsOnTheFixture is the test of TestIdentityStormGKE's
// rows (no //go:build e2e: make test runs it): with fixtures/gcp as
// shipped, each of the 50 pods gets its own service account, reads its
// own object and is refused the next pod's with HTTP 403 and a Deny
// naming its own account; with one more member on a bucket (storm-000 on
// storm-001's), the same tally counts the leak.
func TestGKEStormRestsOnTheFixture(t *testing.T) {
	shipped := fixturecheck.Read(t, GoogleFixtureFile)
	widened := fixturecheck.Replace(t, shipped, `members: ["serviceAccount:`+GSAEmail(1)+`"]`,
		`members: ["serviceAccount:`+GSAEmail(1)+`", "serviceAccount:`+GSAEmail(0)+`"]`)
	for _, v := range fixturecheck.Variants(t, shipped, widened) {
		t.Run(v.Name, func(t *testing.T) {
			g := idlabtest.NewGoogle(t, idlabtest.GoogleOptions{Fixtures: []string{fixtureDir(t, "gcp", v.Fixture)}})
			c := GKE()
			if v.Widened {
				c.Pods = 1 // storm-000 alone, whose read of storm-001's object the widened binding allows
			}
			f := c.Tally(googleStorm(t, g, c.Pods), time.Minute)
			if !v.Widened {
				require.Equal(t, Figures{Pods: GKEPods, OwnRole: GKEPods, OwnRead: GKEPods, Denied: GKEPods, Wall: time.Minute}, f)
				return
			}
			require.Equal(t, 1, f.Leaks, "%v", f.Problems)
			require.Zero(t, f.Denied)
			require.Equal(t, []string{`storm-000: read another pod's object ("storm object of storm-001", decision "Allow")`}, f.Problems)
		})
	}
}

// azureStorm runs pods 0..n-1 of the aks storm against a as the e2e test
// does, with azidentity and azblob; then the blob decisions matched by
// request ID.
func azureStorm(t *testing.T, a *idlabtest.Azure, n int) []Pod {
	t.Helper()
	ctx := context.Background()
	results := make([]probe.StormResult, n)
	for i := range n {
		file, err := a.TokenFile(Namespace, Name(i))
		require.NoError(t, err)
		cred, err := a.Credential(AzureTenant, ClientID(i), file)
		require.NoError(t, err)
		_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://storage.azure.com/.default"}, EnableCAE: true})
		require.NoError(t, err, "the exchange of %s", Name(i))
		c, err := a.BlobClient(StorageAccount, cred)
		require.NoError(t, err)
		read := func(container string) probe.Result {
			resp, err := c.DownloadStream(ctx, container, BlobName, nil)
			var re *azcore.ResponseError
			switch {
			case errors.As(err, &re):
				return probe.Result{ErrorCode: re.ErrorCode, RequestID: re.RawResponse.Header.Get("x-ms-request-id")}
			case err != nil:
				return probe.Result{ErrorCode: "ClientError", ErrorMessage: err.Error()}
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			return probe.Result{OK: true, Output: string(b), RequestID: *resp.RequestID}
		}
		results[i] = probe.StormResult{Exchange: probe.Result{OK: true}, Own: read(Name(i)), Other: read(Name(Next(i, AKSPods)))}
	}
	var seen []Seen
	for _, d := range a.Blob.Handler().Decisions() {
		seen = append(seen, Seen{Key: d.RequestID, Decision: Decision{Principal: d.Detail["appId"], Effect: d.Effect}})
	}
	byID := Index(seen)
	pods := make([]Pod, n)
	for i, r := range results {
		pods[i] = Pod{Index: i, Result: r, OwnDecision: byID[r.Own.RequestID], OtherDecision: byID[r.Other.RequestID]}
	}
	return pods
}

// TestAKSStormRestsOnTheFixture is the test of TestIdentityStormAKS's
// rows: with fixtures/azure as shipped, each of the 50 pods gets a token
// of its own app, reads its own blob and is refused the next pod's with
// AuthorizationPermissionMismatch and a Deny naming its own app; with
// storm-000's app also a reader of container storm-001, the tally counts
// the leak.
func TestAKSStormRestsOnTheFixture(t *testing.T) {
	shipped := fixturecheck.Read(t, AzureFixtureFile)
	own := "          - {assignee: " + ClientID(1) + ", role: " + BlobReader + ", container: " + Name(1) + "}\n"
	widened := fixturecheck.Replace(t, shipped, own, own+"          - {assignee: "+ClientID(0)+", role: "+BlobReader+", container: "+Name(1)+"}\n")
	for _, v := range fixturecheck.Variants(t, shipped, widened) {
		t.Run(v.Name, func(t *testing.T) {
			a := idlabtest.NewAzure(t, idlabtest.AzureOptions{Fixtures: []string{fixtureDir(t, "azure", v.Fixture)}})
			c := AKS()
			if v.Widened {
				c.Pods = 1
			}
			f := c.Tally(azureStorm(t, a, c.Pods), time.Minute)
			if !v.Widened {
				require.Equal(t, Figures{Pods: AKSPods, OwnRole: AKSPods, OwnRead: AKSPods, Denied: AKSPods, Wall: time.Minute}, f)
				return
			}
			require.Equal(t, 1, f.Leaks, "%v", f.Problems)
			require.Zero(t, f.Denied)
			require.Equal(t, []string{`storm-000: read another pod's blob ("storm object of storm-001", decision "Allow")`}, f.Problems)
		})
	}
}
