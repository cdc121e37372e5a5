//go:build e2e

package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/idlab/idlab/components/eksagent"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

const (
	account = "123456789012"
	region  = "us-west-2"
	ns      = "idlab-faults"
	role    = "faults-app"
	bucket  = "idlab-faults-data"
	suite   = "faults"
	// podidNS/app has an EKS Pod Identity association (fixtures/eks).
	podidNS = "idlab-podid"
)

var roleARN = "arn:aws:iam::" + account + ":role/" + role

// env is what the fault rows share.
type env struct {
	lab   *labenv.Lab
	eks   *labenv.Cluster
	s3    *s3.Client
	token string // a service-account token of ns/app for STS, issued at the start
}

// TestFaults breaks the lab three ways, one after another, and shows it
// recovers: the emulator container restarted, the EKS Pod Identity agent
// taken off its node and killed, eks's kube-apiserver killed.
func TestFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	e := &env{lab: lab, eks: lab.Cluster(t, "eks")}
	lab.Namespace(ctx, t, e.eks, ns, "app")
	e.putRole(ctx, t)
	e.s3 = lab.S3(ctx, t, account, region)
	_, err := e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}})
	var owned *s3types.BucketAlreadyOwnedByYou
	if !errors.As(err, &owned) {
		require.NoError(t, err)
	}
	e.token = e.tokenRequest(ctx, t)

	t.Run("emulator-restart", func(t *testing.T) { e.emulatorRestart(ctx, t) })
	t.Run("agent-killed", func(t *testing.T) { e.agentKilled(ctx, t) })
	t.Run("apiserver-restart", func(t *testing.T) { e.apiserverRestart(ctx, t) })
}

// putRole makes the suite's IRSA role: ns/app of eks, reading and
// writing its bucket.
func (e *env) putRole(ctx context.Context, t *testing.T) {
	c := e.lab.IAM(ctx, t, account)
	host := strings.TrimPrefix(e.lab.Clusters["eks"].IssuerURL, "https://")
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::%s:oidc-provider/%s"},`+
		`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"%s:sub":"system:serviceaccount:%s:app","%s:aud":"sts.amazonaws.com"}}}]}`,
		account, host, host, ns, host)
	_, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(trust)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "EntityAlreadyExists" {
		_, err = c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(role), PolicyDocument: aws.String(trust)})
	}
	require.NoError(t, err)
	_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String("bucket"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::` + bucket + `/*"}]}`)})
	require.NoError(t, err)
}

// tokenRequest is a one-hour token of ns/app for STS from eks's API
// server (TokenRequest), as the kubelet gets a projected one.
func (e *env) tokenRequest(ctx context.Context, t *testing.T) string {
	exp := int64(3600)
	tr, err := e.eks.CS.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "app", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	require.NoError(t, err)
	return tr.Status.Token
}

// assume trades token for a session of the suite's role, from the host.
func (e *env) assume(ctx context.Context, token string) (aws.Credentials, error) {
	hc, err := e.lab.HTTPClient()
	if err != nil {
		return aws.Credentials{}, err
	}
	c := sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(e.lab.EmulatorURL), HTTPClient: hc, RetryMaxAttempts: 1})
	out, err := c.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(roleARN),
		RoleSessionName: aws.String("faults"), WebIdentityToken: aws.String(token)})
	if err != nil {
		return aws.Credentials{}, err
	}
	k := out.Credentials
	return aws.Credentials{AccessKeyID: *k.AccessKeyId, SecretAccessKey: *k.SecretAccessKey, SessionToken: *k.SessionToken}, nil
}

// s3As is an S3 client signing with creds.
func (e *env) s3As(t *testing.T, creds aws.Credentials) *s3.Client {
	hc, err := e.lab.HTTPClient()
	require.NoError(t, err)
	return s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(e.lab.EmulatorURL), HTTPClient: hc, UsePathStyle: true, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)})
}

// get reads key with c: its text, or the error code.
func get(ctx context.Context, c *s3.Client, key string) (string, string) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return "", ae.ErrorCode()
		}
		return "", "ClientError: " + err.Error()
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return "", "ClientError: " + err.Error()
	}
	return string(b), ""
}

func docker(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// emulatorRestart: a session issued and an object written before `docker
// restart` of the emulator container work after it; a key never issued
// is refused after it as before (the test of the test: the emulator did
// not come back open).
func (e *env) emulatorRestart(ctx context.Context, t *testing.T) {
	creds, err := e.assume(ctx, e.token)
	require.NoError(t, err)
	sess := e.s3As(t, creds)
	const key, text = "before-restart.txt", "written before the emulator restarted"
	_, err = sess.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(text)})
	require.NoError(t, err)

	ipFormat := "{{(index .NetworkSettings.Networks \"" + harness.KindNetwork + "\").IPAddress}}"
	ipBefore, err := docker(ctx, "inspect", "--format", ipFormat, harness.EmulatorContainer)
	require.NoError(t, err)
	start := time.Now()
	_, err = docker(ctx, "restart", harness.EmulatorContainer)
	require.NoError(t, err)
	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	healthy, err := Recover(waitCtx, start, 100*time.Millisecond, func(ctx context.Context) error {
		return e.lab.Admin(ctx, "GET", "/_idlab/healthz", nil, nil)
	})
	require.NoError(t, err, "the emulator must answer its health check again")
	ipAfter, err := docker(ctx, "inspect", "--format", ipFormat, harness.EmulatorContainer)
	require.NoError(t, err)
	require.Equal(t, ipBefore, ipAfter, "the emulator's address on the kind network changed: the clusters' DNS points at the old one")

	got, code := get(ctx, sess, key)
	ok := code == "" && got == text
	labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: "emulator restart", Tier: labenv.Slow,
		Scenario: "session and object from before the restart still work",
		Expected: "allow", Observed: labenv.Observed(ok, code),
		Reason: fmt.Sprintf("docker restart to healthy in %s; the session's GetObject of the object written before read %q", Seconds(healthy), got)})
	require.True(t, ok, "GetObject with the session from before the restart: %s %q", code, got)

	forged := creds
	forged.AccessKeyID = "ASIA" + strings.Repeat("Z", 16)
	_, code = get(ctx, e.s3As(t, forged), key)
	labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: "emulator restart", Tier: labenv.Slow,
		Scenario: "a key never issued is refused after the restart",
		Expected: "InvalidAccessKeyId", Observed: labenv.Observed(code == "", code)})
	require.Equal(t, "InvalidAccessKeyId", code)

	_, err = e.assume(ctx, e.token)
	labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: "emulator restart", Tier: labenv.Slow,
		Scenario: "the token from before the restart assumes the role again",
		Expected: "allow", Observed: labenv.Observed(err == nil, errorCode(err))})
	require.NoError(t, err)
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "ClientError"
	}
	return ""
}

// agentKilled: with the EKS Pod Identity agent off the node, an associated
// pod's SDK gets no credentials (the test of the test); once the agent is
// back, and again after its pod is killed and replaced, the same pod spec
// gets its role.
func (e *env) agentKilled(ctx context.Context, t *testing.T) {
	e.lab.Namespace(ctx, t, e.eks, podidNS, "app")
	ds := e.eks.CS.AppsV1().DaemonSets(harness.SystemNamespace)
	pods := e.eks.CS.CoreV1().Pods(harness.SystemNamespace)
	setSelector := func(sel map[string]string) {
		d, err := ds.Get(ctx, eksagent.Name, metav1.GetOptions{})
		require.NoError(t, err)
		d.Spec.Template.Spec.NodeSelector = sel
		_, err = ds.Update(ctx, d, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	d, err := ds.Get(ctx, eksagent.Name, metav1.GetOptions{})
	require.NoError(t, err)
	selector := labels.SelectorFromSet(d.Spec.Selector.MatchLabels).String()
	ready := func(ctx context.Context) error {
		d, err := ds.Get(ctx, eksagent.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.ObservedGeneration < d.Generation || d.Status.DesiredNumberScheduled == 0 ||
			d.Status.UpdatedNumberScheduled != d.Status.DesiredNumberScheduled || d.Status.NumberReady != d.Status.DesiredNumberScheduled {
			return fmt.Errorf("agent DaemonSet: %d of %d ready", d.Status.NumberReady, d.Status.DesiredNumberScheduled)
		}
		return nil
	}
	run := func(name string) (ok bool, code, detail string) {
		res, err := podrun.Run(ctx, e.eks.CS, podidNS, podrun.PlainPod(name, "app", e.lab.ProbeImage))
		require.NoError(t, err)
		return res.OK, res.ErrorCode, res.Arn + res.ErrorMessage
	}

	// Off the node: a nodeSelector nothing matches, as a node whose agent
	// has not started yet.
	setSelector(map[string]string{"idlab.dev/no-such-node": "true"})
	t.Cleanup(func() {
		// Put the agent back whatever happened, so the lab stays whole.
		d, err := ds.Get(context.Background(), eksagent.Name, metav1.GetOptions{})
		if err == nil && d.Spec.Template.Spec.NodeSelector != nil {
			d.Spec.Template.Spec.NodeSelector = nil
			_, _ = ds.Update(context.Background(), d, metav1.UpdateOptions{})
		}
	})
	require.Eventually(t, func() bool {
		l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: selector})
		return err == nil && len(l.Items) == 0
	}, 2*time.Minute, time.Second, "the agent's pods must be gone")
	ok, code, detail := run("agent-down")
	labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: "EKS Pod Identity agent", Tier: labenv.Slow,
		Scenario: "an associated pod while the agent is off its node gets no credentials",
		Expected: "ClientError", Observed: labenv.Observed(ok, code), Reason: detail})
	require.False(t, ok, "no agent, yet credentials: %s", detail)
	require.Equal(t, "ClientError", code, detail)

	start := time.Now()
	setSelector(nil)
	back, err := Recover(ctx, start, time.Second, ready)
	require.NoError(t, err)
	ok, code, detail = run("agent-back")
	labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: "EKS Pod Identity agent", Tier: labenv.Slow,
		Scenario: "the same pod spec gets its role once the agent is back",
		Expected: "allow", Observed: labenv.Observed(ok, code), Reason: "agent ready " + Seconds(back) + " after it was let back; " + detail})
	require.True(t, ok, "%s: %s", code, detail)

	// Killed: its pod deleted at once; the DaemonSet makes another.
	l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: selector})
	require.NoError(t, err)
	require.NotEmpty(t, l.Items)
	zero := int64(0)
	start = time.Now()
	for _, p := range l.Items {
		require.NoError(t, pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}))
	}
	old := map[string]bool{}
	for _, p := range l.Items {
		old[string(p.UID)] = true
	}
	replaced, err := Recover(ctx, start, 500*time.Millisecond, func(ctx context.Context) error {
		l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		fresh := 0
		for _, p := range l.Items {
			if old[string(p.UID)] {
				return fmt.Errorf("killed agent pod %s still listed", p.Name)
			}
			if !podReady(p) {
				return fmt.Errorf("new agent pod %s not ready", p.Name)
			}
			fresh++
		}
		if fresh < len(old) {
			return fmt.Errorf("%d of %d agent pods replaced and ready", fresh, len(old))
		}
		return nil
	})
	require.NoError(t, err)
	ok, code, detail = run("agent-replaced")
	labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: "EKS Pod Identity agent", Tier: labenv.Slow,
		Scenario: "a pod gets its role after the agent's pod was killed and replaced",
		Expected: "allow", Observed: labenv.Observed(ok, code), Reason: "new agent pod ready " + Seconds(replaced) + " after the kill; " + detail})
	require.True(t, ok, "%s: %s", code, detail)
}

// apiserverRestart: eks's kube-apiserver process is killed (the kubelet
// starts its container again, as after a crash); a token it issued before
// still passes its TokenReview and still assumes the role at STS. Another
// cluster's token fails the TokenReview (the test of the test).
func (e *env) apiserverRestart(ctx context.Context, t *testing.T) {
	node := "eks-control-plane"
	pid, err := docker(ctx, "exec", node, "pgrep", "-x", "kube-apiserver")
	require.NoError(t, err)
	start := time.Now()
	_, err = docker(ctx, "exec", node, "kill", "-KILL", pid)
	require.NoError(t, err)
	back, err := Recover(ctx, start, 500*time.Millisecond, func(ctx context.Context) error {
		now, err := docker(ctx, "exec", node, "pgrep", "-x", "kube-apiserver")
		if err != nil || now == pid {
			return fmt.Errorf("kube-apiserver not restarted yet (pid %q, killed %s): %v", now, pid, err)
		}
		_, err = e.eks.CS.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
	require.NoError(t, err)

	review := func(token string) (bool, string) {
		tr, err := e.eks.CS.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
			Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{"sts.amazonaws.com"}}}, metav1.CreateOptions{})
		require.NoError(t, err)
		return tr.Status.Authenticated, tr.Status.User.Username + tr.Status.Error
	}
	ok, who := review(e.token)
	labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: "kube-apiserver restart", Tier: labenv.Slow,
		Scenario: "a token issued before the restart passes its TokenReview",
		Expected: "allow", Observed: observedReview(ok), Reason: "API server ready " + Seconds(back) + " after its process was killed; " + who})
	require.True(t, ok, who)

	_, err = e.assume(ctx, e.token)
	labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: "kube-apiserver restart", Tier: labenv.Slow,
		Scenario: "a token issued before the restart assumes the role at STS",
		Expected: "allow", Observed: labenv.Observed(err == nil, errorCode(err))})
	require.NoError(t, err)

	gke := e.lab.Cluster(t, "gke")
	e.lab.Namespace(ctx, t, gke, ns, "app")
	exp := int64(600)
	tr, err := gke.CS.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "app", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	require.NoError(t, err)
	ok, who = review(tr.Status.Token)
	labenv.Row(t, labenv.Outcome{Suite: suite, Mechanism: "kube-apiserver restart", Tier: labenv.Slow,
		Scenario: "another cluster's token for the same service account fails the TokenReview",
		Expected: "unauthenticated", Observed: observedReview(ok), Reason: who})
	require.False(t, ok, "the gke cluster's token passed eks's TokenReview")
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func observedReview(authenticated bool) string {
	if authenticated {
		return "allow"
	}
	return "unauthenticated"
}
