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

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/iamimport"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

const (
	account   = "123456789012"
	region    = "us-west-2"
	pods      = 200
	mechanism = "IRSA webhook"
	suite     = "identity storm"
	// workers bounds the test's own concurrent API calls while it sets
	// up and starts the storm.
	workers = 16
)

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
	lab := labenv.Open(t)
	eks := lab.Cluster(t, "eks")
	issuer := lab.Clusters["eks"].IssuerURL
	lab.Namespace(ctx, t, eks, Namespace)

	setupStart := time.Now()
	iamc := lab.IAM(ctx, t, account)
	s3c := adminS3(ctx, t, lab)
	createBucket(ctx, t, s3c)
	t.Cleanup(func() { deleteRoles(context.Background(), t, iamc) })
	require.NoError(t, each(ctx, pods, func(ctx context.Context, i int) error {
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
	waitForWebhook(ctx, t, eks, lab.ProbeImage)
	t.Logf("set up %d roles, objects and service accounts in %s", pods, time.Since(setupStart).Round(time.Second))

	baseline := labMemory(ctx, t, lab)
	peak := sampleMemory(ctx, t, lab)
	since := lab.LastDecisionID(ctx, t)
	start := time.Now()
	var unmutated atomic.Int32
	require.NoError(t, each(ctx, pods, func(ctx context.Context, i int) error {
		p := podrun.WithArgs(podrun.PlainPod(Name(i), Name(i), lab.ProbeImage), "storm", Bucket, OwnKey(i), OtherKey(i, pods))
		got, err := eks.CS.CoreV1().Pods(Namespace).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create pod %s: %w", p.Name, err)
		}
		if env(got, "AWS_ROLE_ARN") != roleARN(i) {
			unmutated.Add(1)
		}
		return nil
	}))
	created := time.Since(start)
	results := collect(ctx, t, eks, pods)
	wall := time.Since(start)
	peakMem := peak()
	t.Logf("created %d pods in %s; all reported in %s (%d unmutated by the webhook)", pods, created.Round(time.Second), wall.Round(time.Second), unmutated.Load())

	// The emulator's decisions for each pod's two reads, by request ID.
	byID := map[string]harness.Decision{}
	for _, d := range lab.DecisionsOf(ctx, t, labenv.DecisionQuery{Since: since, Action: "s3:GetObject"}) {
		byID[d.RequestID] = d
	}
	var outcomes []Pod
	for i, r := range results {
		if r == nil {
			continue
		}
		own, other := byID[r.Own.RequestID], byID[r.Other.RequestID]
		outcomes = append(outcomes, Pod{Index: i, Result: *r,
			OwnDecision:   Decision{Principal: own.Principal, Effect: own.Effect},
			OtherDecision: Decision{Principal: other.Principal, Effect: other.Effect}})
	}
	f := Tally(outcomes, pods, wall)
	memory := fmt.Sprintf("lab memory (docker stats, emulator and nodes) %s before, %s at peak", MiB(baseline), MiB(peakMem))
	problems := ""
	if len(f.Problems) > 0 {
		problems = "; first problems: " + strings.Join(f.Problems, "; ")
	}
	labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: mechanism, Tier: labenv.Slow,
		Scenario: fmt.Sprintf("%d pods each get their own role at once", pods),
		Expected: Of(pods, pods), Observed: Of(f.OwnRole, pods),
		Reason: fmt.Sprintf("%s; %d failed exchanges%s", f.Timing(), f.FailedExchanges, problems)})
	labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: mechanism, Tier: labenv.Slow,
		Scenario: "each pod reads its own object",
		Expected: Of(pods, pods), Observed: Of(f.OwnRead, pods), Reason: memory})
	labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: mechanism, Tier: labenv.Slow,
		Scenario: "no pod reads another pod's object",
		Expected: fmt.Sprintf("0 leaks, %s AccessDenied", Of(pods, pods)),
		Observed: fmt.Sprintf("%d leaks, %s AccessDenied", f.Leaks, Of(f.Denied, pods)),
		Reason:   "each refusal: S3 AccessDenied in the pod and an ImplicitDeny decision naming the pod's own role"})
	require.Zero(t, f.Leaks, "cross-identity leaks: %v", f.Problems)
	require.Zero(t, f.FailedExchanges, "failed exchanges: %v", f.Problems)
	require.Equal(t, pods, f.OwnRole, "%v", f.Problems)
	require.Equal(t, pods, f.OwnRead, "%v", f.Problems)
	require.Equal(t, pods, f.Denied, "%v", f.Problems)
	require.Zero(t, unmutated.Load(), "pods the webhook left without AWS_ROLE_ARN")
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
func deleteRoles(ctx context.Context, t *testing.T, c *iam.Client) {
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

// waitForWebhook waits until the IRSA webhook mutates a pod of the last
// service account made (a server-side dry run calls the webhook), so the
// storm measures the exchange, not the webhook's informer catching up.
func waitForWebhook(ctx context.Context, t *testing.T, c *labenv.Cluster, image string) {
	last := Name(pods - 1)
	deadline := time.Now().Add(time.Minute)
	for {
		p := podrun.PlainPod("dry-run", last, image)
		got, err := c.CS.CoreV1().Pods(Namespace).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil && env(got, "AWS_ROLE_ARN") == roleARN(pods-1) {
			return
		}
		require.True(t, time.Now().Before(deadline), "the IRSA webhook did not mutate a pod of %s within a minute (last error: %v)", last, err)
		time.Sleep(500 * time.Millisecond)
	}
}

func env(p *corev1.Pod, name string) string {
	for _, e := range p.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// collect reads each pod's result once its probe has finished and
// deletes the pod, until every pod has reported or 20 minutes have
// passed; results[i] is nil for a pod that never reported.
func collect(ctx context.Context, t *testing.T, c *labenv.Cluster, n int) []*probe.StormResult {
	results := make([]*probe.StormResult, n)
	index := map[string]int{}
	for i := range n {
		index[Name(i)] = i
	}
	pods := c.CS.CoreV1().Pods(Namespace)
	left, deadline := n, time.Now().Add(20*time.Minute)
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
		t.Logf("%d pods did not report within 20 minutes", left)
	}
	return results
}

func eachName(ctx context.Context, names []string, fn func(context.Context, string) error) error {
	return each(ctx, len(names), func(ctx context.Context, i int) error { return fn(ctx, names[i]) })
}

// labContainers are the lab's containers: the emulator and each
// cluster's node (kind names a one-node cluster's node NAME-control-plane).
func labContainers(lab *labenv.Lab) []string {
	out := []string{harness.EmulatorContainer}
	for name := range lab.Clusters {
		out = append(out, name+"-control-plane")
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
