//go:build e2e

package storm

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/azurewebhook"
	"github.com/idlab/idlab/components/gkemetadata"
	"github.com/idlab/idlab/emulators/azureblob"
	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/iamimport"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

const (
	account = "123456789012"
	region  = "us-west-2"
	// workers bounds the test's own concurrent API calls while it sets
	// up and starts a storm.
	workers = 16
)

// The three storms run one after another (no t.Parallel): each in its own
// cluster, but all through the one emulator on two shared cores, so in
// parallel each storm's latencies and the lab's peak memory would be the
// sum of the three, and no row could say whose they were.

// TestIdentityStorm starts 200 pods at once in eks, each under its own
// service account annotated with its own role (the real IRSA webhook
// mutates them), and each trades its token at STS, reads its own object
// and tries the next pod's. Rows: every pod got its own role (the
// emulator's decision for its own read names it), read its own object,
// and was refused the other's (AccessDenied, ImplicitDeny naming its own
// role); the figures (time to all done, exchange and S3 p50/p99, the
// lab's memory) are the rows' reasons.
//
// One node runs at most 110 pods (the kubelet's maxPods), so the storm
// deletes each pod once its result is read, and the rest start as room
// frees: all 200 are created at once, not all run at once.
func TestIdentityStorm(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c := EKS()
	lab := labenv.Open(t)
	eks := lab.Cluster(t, c.Cluster)
	issuer := lab.Clusters[c.Cluster].IssuerURL
	lab.Namespace(ctx, t, eks, Namespace)

	setupStart := time.Now()
	iamc := lab.IAM(ctx, t, account)
	s3c := adminS3(ctx, t, lab)
	createBucket(ctx, t, s3c)
	t.Cleanup(func() { deleteRoles(context.Background(), t, iamc, c.Pods) })
	require.NoError(t, each(ctx, c.Pods, func(ctx context.Context, i int) error {
		if err := putRole(ctx, iamc, issuer, i); err != nil {
			return err
		}
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(Bucket), Key: aws.String(OwnKey(i)),
			Body: strings.NewReader(ObjectText(i))}); err != nil {
			return fmt.Errorf("put %s: %w", OwnKey(i), err)
		}
		_, err := eks.CS.CoreV1().ServiceAccounts(Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Name: Name(i), Annotations: map[string]string{"eks.amazonaws.com/role-arn": roleARN(i)}}}, metav1.CreateOptions{})
		return err
	}))
	last := c.Pods - 1
	waitForMutation(ctx, t, eks, "IRSA", podrun.PlainPod("dry-run", Name(last), lab.ProbeImage), "AWS_ROLE_ARN", roleARN(last))
	t.Logf("set up %d roles, objects and service accounts in %s", c.Pods, time.Since(setupStart).Round(time.Second))

	run := start(ctx, t, lab, eks, c, func(i int) (*corev1.Pod, string, string) {
		p := podrun.WithArgs(podrun.PlainPod(Name(i), Name(i), lab.ProbeImage), "storm", Bucket, OwnKey(i), OtherKey(i, c.Pods))
		return p, "AWS_ROLE_ARN", roleARN(i)
	})
	// The emulator's decisions for each pod's two reads, by request ID.
	var seen []Seen
	for _, d := range lab.DecisionsOf(ctx, t, labenv.DecisionQuery{Since: run.since, Action: "s3:GetObject"}) {
		seen = append(seen, Seen{Key: d.RequestID, Decision: Decision{Principal: d.Principal, Effect: d.Effect}})
	}
	byID := Index(seen)
	finish(t, c, run, func(_ int, r *probe.StormResult) (Decision, Decision) {
		return byID[r.Own.RequestID], byID[r.Other.RequestID]
	})
}

// TestIdentityStormGKE starts 50 pods at once in gke, each under its own
// Kubernetes service account annotated with its own Google service
// account (fixtures/gcp/storm.yaml binds each KSA, through GKE Workload
// Identity, to its GSA alone, and lets each GSA alone read its own
// bucket). Each pod's Google client gets its token from the lab's GKE
// metadata server (Application Default Credentials: the token source's
// first Token() is the exchange), reads its own bucket's object and tries
// the next pod's. Google IAM's storage decisions carry no request ID, so
// a pod's are the ones naming its own service account on the two
// buckets; the refusal must be HTTP 403 and a Deny naming the pod's own
// service account.
func TestIdentityStormGKE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	c := GKE()
	lab := labenv.Open(t)
	gke := lab.Cluster(t, c.Cluster)
	require.Equal(t, GKEIssuer, lab.Clusters[c.Cluster].IssuerURL, "fixtures/gcp/lab.yaml's pool, which the storm's bindings name, trusts this issuer")
	lab.Namespace(ctx, t, gke, Namespace)
	require.NoError(t, each(ctx, c.Pods, func(ctx context.Context, i int) error {
		_, err := gke.CS.CoreV1().ServiceAccounts(Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Name: Name(i), Annotations: map[string]string{gkemetadata.AnnotationGSA: GSAEmail(i)}}}, metav1.CreateOptions{})
		return err
	}))

	// The metadata server reads the pod's KSA at each request: no
	// webhook to wait for, no mutation to check.
	run := start(ctx, t, lab, gke, c, func(i int) (*corev1.Pod, string, string) {
		return podrun.WithArgs(podrun.PlainPod(Name(i), Name(i), lab.ProbeImage), GCSArgs(i, c.Pods)...), "", ""
	})
	var seen []Seen
	for _, d := range lab.DecisionsOf(ctx, t, labenv.DecisionQuery{Since: run.since, Service: gcpiam.Service, Action: "storage.objects.get"}) {
		seen = append(seen, Seen{Key: GoogleKey(d.Principal, d.Resource), Decision: Decision{Principal: d.Principal, Effect: d.Effect}})
	}
	byRead := Index(seen)
	finish(t, c, run, func(i int, _ *probe.StormResult) (Decision, Decision) { return GoogleReads(byRead, i, c.Pods) })
}

// TestIdentityStormAKS starts 50 pods at once in aks, each labelled for
// the lab's Azure Workload Identity webhook and under its own service
// account annotated with its own Entra app (fixtures/azure/storm.yaml
// federates each app with that service account alone and lets each app
// alone read its own container of idlabstorm). Each pod's
// WorkloadIdentityCredential gets an Entra token (GetToken is the
// exchange), and the azblob client reads its own container's blob and
// tries the next pod's: AuthorizationPermissionMismatch, with a blob
// decision (found by x-ms-request-id) naming the pod's own app.
func TestIdentityStormAKS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	c := AKS()
	lab := labenv.Open(t)
	aks := lab.Cluster(t, c.Cluster)
	require.Equal(t, AKSIssuer, lab.Clusters[c.Cluster].IssuerURL, "fixtures/azure/storm.yaml's federated credentials trust this issuer")
	lab.Namespace(ctx, t, aks, Namespace)
	require.NoError(t, each(ctx, c.Pods, func(ctx context.Context, i int) error {
		_, err := aks.CS.CoreV1().ServiceAccounts(Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
			Name: Name(i), Annotations: map[string]string{azurewebhook.ClientIDAnnotation: ClientID(i)}}}, metav1.CreateOptions{})
		return err
	}))
	pod := func(i int) *corev1.Pod {
		p := podrun.WithArgs(podrun.PlainPod(Name(i), Name(i), lab.ProbeImage), BlobArgs(i, c.Pods)...)
		p.Labels[azurewebhook.UseLabel] = "true"
		return p
	}
	last := c.Pods - 1
	dry := pod(last)
	dry.Name = "dry-run"
	waitForMutation(ctx, t, aks, "Azure Workload Identity", dry, "AZURE_CLIENT_ID", ClientID(last))

	run := start(ctx, t, lab, aks, c, func(i int) (*corev1.Pod, string, string) { return pod(i), "AZURE_CLIENT_ID", ClientID(i) })
	var seen []Seen
	for _, d := range lab.DecisionsOf(ctx, t, labenv.DecisionQuery{Since: run.since, Service: azureblob.Service}) {
		seen = append(seen, Seen{Key: d.RequestID, Decision: Decision{Principal: d.Detail["appId"], Effect: d.Effect}})
	}
	byID := Index(seen)
	finish(t, c, run, func(_ int, r *probe.StormResult) (Decision, Decision) {
		return byID[r.Own.RequestID], byID[r.Other.RequestID]
	})
}

// stormRun is a storm's pods, started at once, and what the test saw.
type stormRun struct {
	since     int64 // the last decision before the storm
	results   []*probe.StormResult
	wall      time.Duration
	memory    string
	unmutated int32 // pods the webhook left without their identity's variable
}

// within is how long a storm's pods may take to report: 20 minutes for
// eks's 200, 8 for 50, so the three storms, whose rows are logged even
// when pods never report, end within the package's 40 minutes.
func within(c Cloud) time.Duration {
	if c.Pods > 50 {
		return 20 * time.Minute
	}
	return 8 * time.Minute
}

// start measures the lab's memory, creates c.Pods pods at once (pod(i)
// makes pod i, and names the variable its webhook must have set to want;
// "" for none), collects their results and samples the lab's memory until
// the last one.
func start(ctx context.Context, t *testing.T, lab *labenv.Lab, cl *labenv.Cluster, c Cloud, pod func(i int) (p *corev1.Pod, env, want string)) stormRun {
	t.Helper()
	baseline := labMemory(ctx, t, lab)
	peak := sampleMemory(ctx, t, lab)
	run := stormRun{since: lab.LastDecisionID(ctx, t)}
	begin := time.Now()
	var unmutated atomic.Int32
	require.NoError(t, each(ctx, c.Pods, func(ctx context.Context, i int) error {
		p, name, want := pod(i)
		got, err := cl.CS.CoreV1().Pods(Namespace).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create pod %s: %w", p.Name, err)
		}
		if name != "" && podrun.Env(got, name) != want {
			unmutated.Add(1)
		}
		return nil
	}))
	created := time.Since(begin)
	run.results = collect(ctx, t, cl, c.Pods, within(c))
	run.wall = time.Since(begin)
	run.memory = Memory(baseline, peak())
	run.unmutated = unmutated.Load()
	t.Logf("%s: created %d pods in %s; all reported in %s (%d unmutated by the webhook)", c.Cluster, c.Pods,
		created.Round(time.Second), run.wall.Round(time.Second), run.unmutated)
	return run
}

// finish pairs each result with the decisions on its two reads
// (decisions), logs the storm's rows and asserts them.
func finish(t *testing.T, c Cloud, run stormRun, decisions func(i int, r *probe.StormResult) (own, other Decision)) {
	t.Helper()
	var outcomes []Pod
	for i, r := range run.results {
		if r == nil {
			continue
		}
		own, other := decisions(i, r)
		outcomes = append(outcomes, Pod{Index: i, Result: *r, OwnDecision: own, OtherDecision: other})
	}
	f := c.Tally(outcomes, run.wall)
	for _, row := range c.Rows(f, run.memory) {
		labenv.Row(t, row)
	}
	require.Zero(t, f.Leaks, "cross-identity leaks: %v", f.Problems)
	require.Zero(t, f.FailedExchanges, "failed exchanges: %v", f.Problems)
	require.Equal(t, c.Pods, f.OwnRole, "%v", f.Problems)
	require.Equal(t, c.Pods, f.OwnRead, "%v", f.Problems)
	require.Equal(t, c.Pods, f.Denied, "%v", f.Problems)
	require.Zero(t, run.unmutated, "pods the webhook left without their identity")
}

func roleARN(i int) string { return "arn:aws:iam::" + account + ":role/" + Name(i) }

// each runs fn for 0..n-1 on workers goroutines and returns the first error.
func each(ctx context.Context, n int, fn func(context.Context, int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := range n {
		g.Go(func() error { return fn(ctx, i) })
	}
	return g.Wait()
}

// adminS3 is an S3 client of the lab as the account's admin, path-style
// on the emulator's loopback listener (which routes by the SigV4 scope).
func adminS3(ctx context.Context, t *testing.T, lab *labenv.Lab) *s3.Client {
	creds, err := iamimport.LabAdmin(ctx, lab.State, account)
	require.NoError(t, err)
	hc, err := lab.HTTPClient()
	require.NoError(t, err)
	return s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(lab.EmulatorURL), HTTPClient: hc, UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })})
}

func createBucket(ctx context.Context, t *testing.T, c *s3.Client) {
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(Bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}})
	var owned *s3types.BucketAlreadyOwnedByYou
	if errors.As(err, &owned) {
		return // a kept lab's earlier run
	}
	require.NoError(t, err)
}

// putRole makes pod i's role, or brings an earlier run's up to date.
func putRole(ctx context.Context, c *iam.Client, issuer string, i int) error {
	trust := TrustPolicy(account, issuer, Namespace, i)
	_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(Name(i)), AssumeRolePolicyDocument: aws.String(trust)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "EntityAlreadyExists" {
		_, err = c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(Name(i)), PolicyDocument: aws.String(trust)})
	}
	if err != nil {
		return fmt.Errorf("role %s: %w", Name(i), err)
	}
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(Name(i)), PolicyName: aws.String("own-object"),
		PolicyDocument: aws.String(ReadPolicy(Bucket, i))})
	if err != nil {
		return fmt.Errorf("policy of %s: %w", Name(i), err)
	}
	return nil
}

// deleteRoles removes the storm's roles, so the lab's IAM holds only what
// other suites expect.
func deleteRoles(ctx context.Context, t *testing.T, c *iam.Client, pods int) {
	err := each(ctx, pods, func(ctx context.Context, i int) error {
		if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(Name(i)), PolicyName: aws.String("own-object")}); err != nil {
			return err
		}
		_, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(Name(i))})
		return err
	})
	if err != nil {
		t.Logf("deleting the storm's roles: %v", err)
	}
}

// waitForMutation waits until the webhook (named for the message) sets
// the variable name to want in a server-side dry run of p (which calls
// the webhook), so the storm measures the exchange, not the webhook's
// informer catching up with the service accounts just made.
func waitForMutation(ctx context.Context, t *testing.T, c *labenv.Cluster, webhook string, p *corev1.Pod, name, want string) {
	t.Helper()
	err := podrun.WaitForMutation(ctx, c.CS, Namespace, p, time.Minute, func(got *corev1.Pod) error {
		if v := podrun.Env(got, name); v != want {
			return fmt.Errorf("%s=%q, want %q", name, v, want)
		}
		return nil
	})
	require.NoError(t, err, "the %s webhook did not mutate a pod of %s", webhook, p.Spec.ServiceAccountName)
}

// collect reads each pod's result once its probe has finished and
// deletes the pod, until every pod has reported or within has passed;
// results[i] is nil for a pod that never reported.
func collect(ctx context.Context, t *testing.T, c *labenv.Cluster, n int, within time.Duration) []*probe.StormResult {
	results := make([]*probe.StormResult, n)
	index := map[string]int{}
	for i := range n {
		index[Name(i)] = i
	}
	pods := c.CS.CoreV1().Pods(Namespace)
	left, deadline := n, time.Now().Add(within)
	var mu sync.Mutex
	for left > 0 && time.Now().Before(deadline) {
		list, err := pods.List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		var done []string
		for _, p := range list.Items {
			i, ok := index[p.Name]
			if ok && results[i] == nil && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) {
				done = append(done, p.Name)
			}
		}
		require.NoError(t, eachName(ctx, done, func(ctx context.Context, name string) error {
			raw, err := pods.GetLogs(name, &corev1.PodLogOptions{Container: "probe"}).DoRaw(ctx)
			if err != nil {
				return fmt.Errorf("logs of %s: %w", name, err)
			}
			var r probe.StormResult
			if err := probe.ParseInto(string(raw), &r); err != nil {
				return fmt.Errorf("pod %s: %w", name, err)
			}
			mu.Lock()
			results[index[name]] = &r
			mu.Unlock()
			zero := int64(0)
			if err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete %s: %w", name, err)
			}
			return nil
		}))
		left -= len(done)
		if left > 0 {
			time.Sleep(2 * time.Second)
		}
	}
	if left > 0 {
		t.Logf("%d pods did not report within %s", left, within)
	}
	return results
}

func eachName(ctx context.Context, names []string, fn func(context.Context, string) error) error {
	return each(ctx, len(names), func(ctx context.Context, i int) error { return fn(ctx, names[i]) })
}

// labContainers are the lab's containers: the emulator and every node of
// each cluster (kind names each node's container after the node).
func labContainers(lab *labenv.Lab) []string {
	out := []string{harness.EmulatorContainer}
	for _, c := range lab.Clusters {
		out = append(out, c.NodeNames()...)
	}
	return out
}

// labMemory is the lab's memory now, as docker stats reports it.
func labMemory(ctx context.Context, t *testing.T, lab *labenv.Lab) uint64 {
	args := append([]string{"stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}"}, labContainers(lab)...)
	out, err := exec.CommandContext(ctx, "docker", args...).Output()
	require.NoError(t, err, "docker stats")
	total, _, err := ParseStats(string(out))
	require.NoError(t, err)
	return total
}

// sampleMemory samples labMemory until the returned function is called,
// which returns the peak.
func sampleMemory(ctx context.Context, t *testing.T, lab *labenv.Lab) func() uint64 {
	ctx, cancel := context.WithCancel(ctx)
	var (
		mu   sync.Mutex
		peak uint64
		wg   sync.WaitGroup
	)
	args := append([]string{"stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}"}, labContainers(lab)...)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			out, err := exec.CommandContext(ctx, "docker", args...).Output()
			if err == nil {
				if total, _, err := ParseStats(string(out)); err == nil {
					mu.Lock()
					peak = max(peak, total)
					mu.Unlock()
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Second):
			}
		}
	}()
	return func() uint64 {
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
