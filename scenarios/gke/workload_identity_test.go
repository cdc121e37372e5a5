//go:build e2e

// Package gke is the GKE Workload Identity suite: pods in the lab's gke
// cluster get Google credentials from the GKE metadata server the lab runs
// on the node (169.254.169.254, DNAT), with the unmodified Google client
// libraries, and Cloud Storage enforces the bound service account's access.
package gke

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// ns, readerA, readerB and gkeReader are in denials_test.go, shared with
// the suite's test of its tests.
const (
	gsaAnno = "iam.gke.io/gcp-service-account"
	// roleAnno is gtoken's service account annotation.
	roleAnno = "amazonaws.com/role-arn"
	// nodeGSA is the gke node's identity (harness.GoogleNodeServiceAccount).
	nodeGSA = "gke-node@idlab.iam.gserviceaccount.com"
)

func TestGKEWorkloadIdentity(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	gke := lab.Cluster(t, "gke")
	lab.Namespace(ctx, t, gke, ns)
	for name, gsa := range map[string]string{
		"app-a":    readerA, // bound: fixtures/gcp grants idlab.svc.id.goog[idlab-gke/app-a] workloadIdentityUser on it
		"app-b":    readerB,
		"intruder": readerA, // annotated, but no binding lets it act as team-a-reader
		"plain":    "",      // no annotation
		// Also annotated with the AWS role, so the gtoken webhook mutates
		// their pods; both are bound (fixtures/gcp) to their GSA.
		"aws-app":   readerA,
		"aws-other": readerB,
	} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if gsa != "" {
			sa.Annotations = map[string]string{gsaAnno: gsa}
		}
		if strings.HasPrefix(name, "aws-") {
			sa.Annotations[roleAnno] = gkeReader
		}
		_, err := gke.CS.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
		require.NoError(t, err)
	}

	tests := []gkeRow{
		{name: "email-of-bound-ksa", ksa: "app-a", args: []string{"gcp-email"}, wantOutput: readerA},
		{name: "own-bucket", ksa: "app-a", args: []string{"gcs-get", "team-a-data", "hello.txt"}, wantOutput: "hello from team-a-data",
			resource: "projects/_/buckets/team-a-data", member: "serviceAccount:" + readerA, allowed: true},
		{name: "other-bucket", ksa: "app-a", args: []string{"gcs-get", "team-b-data", "secret.txt"}, wantCode: "HTTP403",
			resource: "projects/_/buckets/team-b-data", member: "serviceAccount:" + readerA},
		{name: "other-ksa-own-bucket", ksa: "app-b", args: []string{"gcs-get", "team-b-data", "secret.txt"}, wantOutput: "team b only",
			resource: "projects/_/buckets/team-b-data", member: "serviceAccount:" + readerB, allowed: true},
		// The annotation alone is not enough: without the workloadIdentityUser
		// binding the metadata server cannot get a token for the GSA.
		{name: "annotated-but-unbound", ksa: "intruder", args: []string{"gcs-get", "team-a-data", "hello.txt"}, wantCode: "Metadata403",
			resource: "projects/idlab/serviceAccounts/" + readerA, member: "serviceAccount:idlab.svc.id.goog[" + ns + "/intruder]"},
		// Without an annotation the pod acts as the workload pool itself,
		// which no bucket grants.
		{name: "unannotated-email", ksa: "plain", args: []string{"gcp-email"}, wantOutput: "idlab.svc.id.goog"},
		{name: "unannotated-bucket", ksa: "plain", args: []string{"gcs-get", "team-a-data", "hello.txt"}, wantCode: "HTTP403",
			resource: "projects/_/buckets/team-a-data", member: "serviceAccount:idlab.svc.id.goog[" + ns + "/plain]"},
		// hostNetwork pods are the node: they get its identity, whatever
		// their KSA, and the node's GSA has no bucket.
		{name: "hostnetwork-email", ksa: "app-a", hostNetwork: true, args: []string{"gcp-email"}, wantOutput: nodeGSA},
		{name: "hostnetwork-bucket", ksa: "app-a", hostNetwork: true, args: []string{"gcs-get", "team-a-data", "hello.txt"}, wantCode: "HTTP403",
			resource: "projects/_/buckets/team-a-data", member: "serviceAccount:" + nodeGSA},
		// Cross-cloud, as gtoken wires it: the pod's Google ID token is its
		// AWS web identity; gke-reader trusts only team-a-reader's :sub.
		{name: "gke-to-aws-bound-gsa", ksa: "app-a", args: []string{"gcp-to-aws", gkeReader, "app-a-data", "hello.txt"},
			wantOutput: "hello from app-a-data", awsRole: gkeReader, awsEffect: "Allow"},
		{name: "gke-to-aws-other-gsa", ksa: "app-b", args: []string{"gcp-to-aws", gkeReader, "app-a-data", "hello.txt"},
			wantCode: "AccessDenied", awsRole: gkeReader, awsEffect: "ImplicitDeny"},
		// The right GSA with an ID token for another audience: gke-reader
		// also wants accounts.google.com:oaud (the token's aud; AWS's
		// accounts.google.com:aud is its azp) to be sts.amazonaws.com.
		{name: "gke-to-aws-wrong-audience", ksa: "app-a", args: []string{"gcp-to-aws", gkeReader, "app-a-data", "hello.txt", "sts.amazonaws.com.example"},
			wantCode: "AccessDenied", awsRole: gkeReader, awsEffect: "ImplicitDeny"},
		// The same through the gtoken webhook the lab runs in gke: an
		// unmodified AWS SDK default chain reads the token file gtoken's
		// init container wrote.
		{name: "gtoken-bound-gsa", ksa: "aws-app", args: []string{"s3-get", "app-a-data", "hello.txt"},
			wantOutput: "hello from app-a-data", awsRole: gkeReader, awsEffect: "Allow"},
		{name: "gtoken-other-gsa", ksa: "aws-other", args: []string{"s3-get", "app-a-data", "hello.txt"},
			wantCode: "AccessDenied", awsRole: gkeReader, awsEffect: "ImplicitDeny"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runGKERow(ctx, t, lab, gke, ns, tc) })
	}
}

// runGKERow runs tc's pod in namespace, logs its row and checks it from the
// probe's result and the emulators' decisions.
func runGKERow(ctx context.Context, t *testing.T, lab *labenv.Lab, gke *labenv.Cluster, namespace string, tc gkeRow) {
	onResource := func(d harness.Decision) bool { return d.Resource == tc.resource }
	since := lab.LastDecisionID(ctx, t)
	pod := podrun.WithArgs(podrun.PlainPod(tc.name, tc.ksa, lab.ProbeImage), tc.args...)
	if tc.hostNetwork {
		pod.Spec.HostNetwork = true
		pod.Spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
	// gtoken sets no region; the application does.
	pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{Name: "AWS_REGION", Value: "us-west-2"})
	res, err := podrun.Run(ctx, gke.CS, namespace, pod)
	require.NoError(t, err)
	want := "allow"
	if tc.wantCode != "" {
		want = tc.wantCode
	}
	mechanism := "GKE Workload Identity"
	if tc.awsRole != "" {
		mechanism = "GKE to AWS (Google ID token as web identity)"
	}
	if strings.HasPrefix(tc.name, "gtoken-") {
		mechanism = "gtoken webhook (GKE to AWS)"
	}
	reason := res.ErrorMessage
	if tc.issue != "" {
		// A bug's row quotes Google IAM's decision, which says why, and
		// cites the issue it reproduces.
		if ds := lab.DecisionsBy(ctx, t, since, gcpiam.Service, tc.member, onResource); len(ds) > 0 {
			reason = strings.TrimSpace(reason + " " + ds[len(ds)-1].Effect + ": " + ds[len(ds)-1].Reason)
		}
		reason += " [" + tc.issue + "]"
	}
	labenv.Row(t, labenv.Outcome{Suite: "gke", Scenario: tc.name, Mechanism: mechanism,
		Expected: want, Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: reason})
	if tc.wantCode == "" {
		require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
		require.Equal(t, tc.wantOutput, res.Output)
	} else {
		require.False(t, res.OK, "%s must be refused, got %q", tc.name, res.Output)
		require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
		t.Logf("%s: %s", res.ErrorCode, res.ErrorMessage)
	}
	if tc.awsRole != "" {
		// gke-reader is this suite's own role, its rows run one at a
		// time; a refusal is also named by the request ID the SDK's
		// error carries.
		q := labenv.DecisionQuery{Since: since, Action: "sts:AssumeRoleWithWebIdentity", Resource: tc.awsRole}
		if !res.OK {
			require.NotEmpty(t, res.RequestID, "the SDK's error names no STS request")
			q.RequestID = res.RequestID
		}
		ds := lab.DecisionsOf(ctx, t, q)
		require.NotEmpty(t, ds, "STS must have decided on %s (%+v)", tc.awsRole, q)
		require.Equal(t, tc.awsEffect, ds[len(ds)-1].Effect, ds[len(ds)-1].Explanation())
	}
	if tc.resource == "" {
		return
	}
	ds := lab.DecisionsBy(ctx, t, since, gcpiam.Service, tc.member, onResource)
	require.NotEmpty(t, ds, "Google IAM must have decided for %s on %s", tc.member, tc.resource)
	d := ds[len(ds)-1]
	require.Equal(t, tc.allowed, d.Allowed(), d.Reason)
}

// gkeRow is one row: a pod of ksa running the probe with args, and what
// it must see.
type gkeRow struct {
	name       string
	ksa        string
	args       []string
	wantOutput string
	wantCode   string // probe error code: HTTP<status> from Cloud Storage, Metadata<status> from the metadata server
	// The Google IAM decision the row must leave (resource, member, allowed).
	resource, member string
	allowed          bool
	// For the GKE-to-AWS rows: the AWS role and the decision STS must log.
	awsRole, awsEffect string
	hostNetwork        bool
	// issue is the public issue a bug's row reproduces (identity-bugs).
	issue string
}
