//go:build e2e

// Package thirdparty runs third-party apps, unmodified, with pod identity
// and no keys: Debian bookworm's rclone (idlab/toolclient, every cluster)
// and azure-cli (idlab/azclient, aks), configured with environment
// variables only, in a namespace labelled for the lab CA webhook
// (labenv.AppNamespace) so they trust the lab's certificates as they trust
// any CA. rclone reads S3 through IRSA (env_auth), Cloud Storage through
// the GKE metadata server and, where its version has no mechanism for
// Azure Workload Identity, the row records what it does instead; az logs
// in with the projected token (az login --federated-token) and downloads a
// blob with --auth-mode login. Every allow is read from the emulator's
// decision log, every refusal matched to the decision it came from (by
// the request ID the tool printed where it printed one).
// denials_test.go (run by make test) is the test of its rows.
package thirdparty

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/emulators/azureblob"
	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/toolrun"
)

const suite = "thirdparty"

// toolLab opens the lab, which must have the third-party images, and
// makes the suite's namespace in cluster with the service accounts sas
// (name to annotations).
func toolLab(ctx context.Context, t *testing.T, cluster string, sas map[string]map[string]string) (*labenv.Lab, *labenv.Cluster) {
	t.Helper()
	lab := labenv.Open(t)
	require.NotEmpty(t, lab.ToolClientImage, "the lab was brought up without the third-party client images (idlab up --toolclient; make up does)")
	c := lab.Cluster(t, cluster)
	lab.AppNamespace(ctx, t, c, ns)
	// Created before any pod, so the webhooks' caches have them.
	for name, annotations := range sas {
		_, err := c.CS.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	return lab, c
}

// runTool runs pod in the suite's namespace of c and returns its steps.
func runTool(ctx context.Context, t *testing.T, c *labenv.Cluster, pod *corev1.Pod) []toolrun.Result {
	t.Helper()
	log, err := podrun.RunLog(ctx, c.CS, ns, pod, 4*time.Minute)
	require.NoError(t, err)
	t.Logf("%s's log:\n%s", pod.Name, log)
	rs, err := toolrun.Parse(log)
	require.NoError(t, err)
	require.NotEmpty(t, rs, "the pod ran no step: %q", log)
	return rs
}

// rcloneOutcome reads what rclone reported and, when it read the object,
// the object.
func rcloneOutcome(t *testing.T, rs []toolrun.Result) (toolrun.Outcome, string) {
	t.Helper()
	r, ok := toolrun.Find(rs, "rclone-copyto")
	require.True(t, ok)
	o, err := toolrun.RcloneOutcome(r)
	require.NoError(t, err)
	if !o.OK {
		return o, ""
	}
	cat, ok := toolrun.Find(rs, "cat")
	require.True(t, ok && cat.OK(), "cat after a copy: %+v", cat)
	return o, cat.Output
}

// observed is the matrix's word for o: allow, the code, or rclone's and
// az's own message when it has no code.
func observed(o toolrun.Outcome) string {
	if o.OK || o.Code != "" {
		return labenv.Observed(o.OK, o.Code)
	}
	first, _, _ := strings.Cut(o.Message, "\n")
	return first
}

func expected(code string) string { return labenv.Observed(code == "", code) }

// TestThirdpartyRcloneS3 runs rclone copyto in the eks cluster with an S3
// remote of env_auth = true, provider AWS and the bucket's region, and
// nothing else: the IRSA webhook gives the pod AWS_ROLE_ARN and the
// projected token, and rclone's AWS SDK (aws-sdk-go 1.44.133 in Debian's
// build) assumes the role with it.
func TestThirdpartyRcloneS3(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	role := fixturecheck.RoleARN(rcloneRole)
	anno := map[string]string{"eks.amazonaws.com/role-arn": role}
	lab, eks := toolLab(ctx, t, "eks", map[string]map[string]string{"rclone": anno, "other": anno})
	const principal = ":assumed-role/" + rcloneRole + "/"
	// want is a decision a row must find: the query (its RequestID, when
	// set to requestID, is the one rclone printed) and the effect.
	type want struct {
		q      labenv.DecisionQuery
		effect string
		reason string // part of the decision's reason
	}
	const requestID = "the request ID rclone printed"
	for _, tc := range []struct {
		name, sa, bucket, key string
		code, object          string
		decisions             []want
		note                  string
		// caBundle keeps the lab-CA webhook's AWS_CA_BUNDLE; the other
		// rows set it empty, which the webhook leaves alone, as rclone's
		// users unset it (below).
		caBundle bool
	}{
		// With AWS_CA_BUNDLE set, as the lab-CA webhook sets it for every
		// SDK (or a user for a private CA), rclone 1.60 cannot start: its
		// S3 backend hands aws-sdk-go v1 its own transport
		// (*fshttp.Transport) and the SDK loads a CA bundle only into an
		// *http.Transport (aws/session/session.go loadCustomCABundle,
		// getHTTPTransport: LoadCustomCABundleError "unable to load custom
		// CA bundle, HTTPClient's transport unsupported type"). rclone's
		// forum answer is to unset it and trust the CA another way
		// (forum.rclone.org/t/mounting-an-amazon-s3-bucket/15106); other
		// aws-sdk-go v1 apps with their own transport fail alike
		// (kubernetes-sigs/external-dns#3655). Go reads SSL_CERT_FILE,
		// which the webhook also sets, so the other rows only unset it.
		{name: "aws-ca-bundle-set", sa: "rclone", bucket: "app-a-data", key: "hello.txt", code: "LoadCustomCABundleError", caBundle: true,
			note: "AWS_CA_BUNDLE as the lab-CA webhook sets it: aws-sdk-go v1 loads a CA bundle only into an *http.Transport, rclone's is *fshttp.Transport; no STS call"},
		{name: "own-object", sa: "rclone", bucket: "app-a-data", key: "hello.txt", object: "hello from app-a-data",
			decisions: []want{{q: labenv.DecisionQuery{Action: "s3:GetObject", Resource: "arn:aws:s3:::app-a-data/hello.txt", Principal: principal}, effect: "Allow"}}},
		// rclone asks HEAD first; when that is refused it takes the path
		// for a directory and lists it (backend/s3 NewFs ignores the HEAD's
		// error; cmd.NewFsSrcDstFiles then copies a directory), so what it
		// reports is the listing's refusal. Both are in the decision log.
		{name: "other-bucket", sa: "rclone", bucket: "app-b-data", key: "secret.txt", code: "AccessDenied",
			decisions: []want{
				{q: labenv.DecisionQuery{Action: "s3:ListBucket", Resource: "arn:aws:s3:::app-b-data", Principal: principal, RequestID: requestID}, effect: "ImplicitDeny"},
				{q: labenv.DecisionQuery{Action: "s3:GetObject", Resource: "arn:aws:s3:::app-b-data/secret.txt", Principal: principal}, effect: "ImplicitDeny"},
			},
			note: "rclone reports the listing's refusal: its HEAD (s3:GetObject) was refused first, and it took the key for a directory"},
		// The same app as a service account the role's trust policy does
		// not name: STS refuses the token (rclone: WebIdentityErr).
		{name: "other-sa", sa: "other", bucket: "app-a-data", key: "hello.txt", code: "AccessDenied",
			decisions: []want{{q: labenv.DecisionQuery{Action: "sts:AssumeRoleWithWebIdentity", Resource: role, RequestID: requestID}, effect: "ImplicitDeny",
				reason: "system:serviceaccount:" + ns + ":other"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			since := lab.LastDecisionID(ctx, t)
			start := time.Now()
			env := toolrun.RcloneS3Env("s3", eks.Region)
			if !tc.caBundle {
				env = append(env, corev1.EnvVar{Name: "AWS_CA_BUNDLE", Value: ""})
			}
			pod, err := toolrun.Pod("rclone-s3-"+tc.name, tc.sa, lab.ToolClientImage, env,
				toolrun.RcloneCopy("s3", tc.bucket, tc.key), toolrun.CatObject())
			require.NoError(t, err)
			o, object := rcloneOutcome(t, runTool(ctx, t, eks, pod))
			adm, admitted := eks.IRSAWebhookAdmission(ctx, t, ns, pod.Name, start)
			found := make([][]harness.Decision, len(tc.decisions))
			reasons := []string{labenv.AdmissionEvidence(adm, admitted)}
			for i, w := range tc.decisions {
				q := w.q
				q.Since = since
				if q.RequestID == requestID {
					q.RequestID = o.RequestID
				}
				if q.RequestID != "" || w.q.RequestID == "" {
					found[i] = lab.DecisionsOf(ctx, t, q)
				}
				if len(found[i]) > 0 {
					d := found[i][len(found[i])-1]
					reasons = append(reasons, fmt.Sprintf("%s %s by %s (request %s): %s", d.Effect, d.Action, d.Principal, d.RequestID, d.Reason))
				}
			}
			if tc.note != "" {
				reasons = append(reasons, tc.note)
			}
			if !o.OK {
				reasons = append(reasons, "rclone: "+o.Message)
			}
			labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: "IRSA (rclone env_auth)", Scenario: tc.name,
				Expected: expected(tc.code), Observed: observed(o), Reason: strings.Join(reasons, "; ")})
			require.True(t, admitted && adm.Mutated, "the IRSA webhook must have mutated the pod: %s", reasons[0])
			require.Equal(t, tc.code == "", o.OK, "%s: %s", o.Code, o.Message)
			require.Equal(t, tc.code, o.Code, o.Message)
			require.Equal(t, tc.object, object)
			if tc.caBundle {
				sts := lab.DecisionsOf(ctx, t, labenv.DecisionQuery{Since: since, Action: "sts:AssumeRoleWithWebIdentity", Resource: role})
				require.Empty(t, sts, "rclone failed before any call: STS must not have heard of it")
			}
			for i, w := range tc.decisions {
				if w.q.RequestID == requestID {
					require.NotEmpty(t, o.RequestID, "rclone printed no request ID: %s", o.Message)
				}
				require.NotEmpty(t, found[i], "no decision %+v", w.q)
				d := found[i][len(found[i])-1]
				require.Equal(t, w.effect, d.Effect, d.Explanation())
				require.Contains(t, d.Reason, w.reason)
			}
		})
	}
}

// TestThirdpartyRcloneGCS runs rclone copyto in the gke cluster with a
// Cloud Storage remote of type alone: rclone 1.60 finds no service account
// and no token in its configuration and falls back to Application Default
// Credentials, which end at the metadata server the lab runs on the node
// (the KSA's bound Google service account's token).
func TestThirdpartyRcloneGCS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const gsaAnno = "iam.gke.io/gcp-service-account"
	lab, gke := toolLab(ctx, t, "gke", map[string]map[string]string{"rclone": {gsaAnno: readerA}, "rclone-b": {gsaAnno: readerB}})
	const bucket = "projects/_/buckets/team-a-data"
	onBucket := func(d harness.Decision) bool { return d.Resource == bucket }
	for _, tc := range []struct {
		name, sa, gsa string
		code, object  string
	}{
		{name: "own-bucket", sa: "rclone", gsa: readerA, object: "hello from team-a-data"},
		// The same app as a KSA bound to another Google service account,
		// which no binding lets read team-a-data.
		{name: "other-identity", sa: "rclone-b", gsa: readerB, code: "HTTP403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			since := lab.LastDecisionID(ctx, t)
			pod, err := toolrun.Pod("rclone-gcs-"+tc.name, tc.sa, lab.ToolClientImage, toolrun.RcloneGCSEnv("gcs"),
				toolrun.RcloneCopy("gcs", "team-a-data", "hello.txt"), toolrun.CatObject())
			require.NoError(t, err)
			o, object := rcloneOutcome(t, runTool(ctx, t, gke, pod))
			ds := lab.DecisionsBy(ctx, t, since, gcpiam.Service, "serviceAccount:"+tc.gsa, onBucket)
			reason := o.Message
			if len(ds) > 0 {
				d := ds[len(ds)-1]
				reason = fmt.Sprintf("Google IAM: %s %s by %s: %s", d.Effect, d.Action, d.Principal, d.Reason)
			}
			labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: "GKE Workload Identity (rclone, metadata server)", Scenario: tc.name,
				Expected: expected(tc.code), Observed: observed(o), Reason: reason})
			require.NotEmpty(t, ds, "Google IAM must have decided for %s on %s", tc.gsa, bucket)
			require.Equal(t, tc.code == "", o.OK, "%s: %s", o.Code, o.Message)
			require.Equal(t, tc.code, o.Code, o.Message)
			require.Equal(t, tc.object, object)
			if tc.code == "" {
				require.True(t, ds[len(ds)-1].Allowed(), ds[len(ds)-1].Reason)
				return
			}
			for _, perm := range []string{"storage.objects.get", "storage.objects.list"} {
				require.True(t, containsDecision(ds, func(d harness.Decision) bool { return d.Action == perm && !d.Allowed() }),
					"Google IAM must have refused %s %s (rclone's lookup, then its listing)", tc.gsa, perm)
			}
		})
	}
}

func containsDecision(ds []harness.Decision, f func(harness.Decision) bool) bool {
	for _, d := range ds {
		if f(d) {
			return true
		}
	}
	return false
}

// TestThirdpartyRcloneAzureBlob runs rclone copyto in the aks cluster in a
// pod the Azure Workload Identity webhook mutates, with a Blob Storage
// remote naming its account only. rclone 1.60's azureblob backend has no
// mechanism for workload identity (no env_auth; its use_msi asks the
// node's instance metadata service for the VM's managed identity, which
// the lab's aks cluster serves through emulators/azureimds, a different
// identity from the pod's federated one), so it refuses before any
// request: "no authentication method configured", and Entra never hears
// of the pod. Upstream, env_auth came with the azureblob auth rework of
// v1.61 (rclone/rclone#6132, "merged this work for v1.61"), and workload
// identity through it only with rclone/rclone#7001 (merged 2023-05-14;
// its thread: not in v1.62.2), so no rclone of Debian bookworm has it. The same service account's token is good: the az rows log
// in with it (TestThirdpartyAzCLI), and TestLabThirdpartyAzureDenialsRestOnTheFixture
// trades it.
func TestThirdpartyRcloneAzureBlob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	lab, aks := toolLab(ctx, t, "aks", map[string]map[string]string{"az": {clientIDAnno: appRead}})
	t.Run("workload-identity", func(t *testing.T) {
		since := lab.LastDecisionID(ctx, t)
		pod, err := toolrun.Pod("rclone-azureblob", "az", lab.ToolClientImage, toolrun.RcloneAzureBlobEnv("azblob", account),
			toolrun.RcloneCopy("azblob", "team-a-data", "hello.txt"), toolrun.CatObject())
		require.NoError(t, err)
		pod.Labels[useLabel] = "true"
		rs := runTool(ctx, t, aks, pod)
		o, _ := rcloneOutcome(t, rs)
		tokens := lab.DecisionsBy(ctx, t, since, entra.Service, "system:serviceaccount:"+ns+":az", nil)
		blobs := lab.DecisionsBy(ctx, t, since, azureblob.Service, "", func(d harness.Decision) bool { return d.Detail["appId"] == appRead })
		const want = "no authentication method configured"
		labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: "Azure Workload Identity (rclone)", Scenario: "workload-identity",
			Expected: want, Observed: observed(o),
			Reason: fmt.Sprintf("rclone 1.60 azureblob: %s; Entra decisions for the pod's subject: %d, blob decisions: %d (it never asked)", o.Message, len(tokens), len(blobs))})
		require.False(t, o.OK)
		require.Equal(t, want, o.Message)
		require.Empty(t, tokens, "rclone must not have reached Entra")
		require.Empty(t, blobs, "rclone must not have reached the blob service")
	})
}
