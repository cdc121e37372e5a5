//go:build e2e

// Package kube2iam is the kube2iam-style proxy suite: pods on the eks node
// reach 169.254.169.254, kube2iam (components/kube2iam, DaemonSet with
// --iptables on the pods' host interfaces and --namespace-restrictions) answers with the role of
// their iam.amazonaws.com/role annotation when their namespace's
// iam.amazonaws.com/allowed-roles allows it, assumed with the node's
// instance-profile credentials. Each refusal is checked from the pod (the
// SDK's error and the proxy's own status and text) and from the decision
// logs (kube2iam's, and IAM's, where the node never asked STS for the
// refused role). Then two identity bugs: a pod started while kube2iam is
// not running gets the node's role (jtblin/kube2iam#170), and the IMDSv2
// hop limit (HttpPutResponseHopLimit=1 starves a pod on the bridge,
// kubernetes-sigs/aws-load-balancer-controller#3358; not behind kube2iam,
// whose requests start on the node). Last, kube2iam restarted with
// --default-role (jtblin/kube2iam#46, defaultrole_test.go): an annotated
// pod asking at once gets its own role, an unannotated one the default;
// the session cache keyed by the role alone (externalid_test.go); and a
// new pod given a finished pod's IP, which gets its own role
// (jtblin/kube2iam#215, ipreuse_test.go).
package kube2iam

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

const (
	account   = "123456789012"
	region    = "us-west-2"
	base      = "arn:aws:iam::" + account + ":role/"
	appRole   = base + "kube2iam-app"
	otherRole = base + "kube2iam-other"
	ns        = "idlab-kube2iam"
	otherNS   = "idlab-kube2iam-other"
	suite     = "kube2iam"
	mechanism = "kube2iam-style proxy"
	roleKey   = "iam.amazonaws.com/role"
	allowKey  = "iam.amazonaws.com/allowed-roles"
)

// env is what a row needs.
type env struct {
	lab *labenv.Lab
	eks *labenv.Cluster
}

func TestKube2iam(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	e := &env{lab: lab, eks: lab.Cluster(t, "eks")}
	// The lab deploys kube2iam in eks by default (harness.ComponentKube2iam):
	// without it every row here would be unproven, so its absence fails.
	_, err := e.eks.CS.AppsV1().DaemonSets(harness.SystemNamespace).Get(ctx, "kube2iam", metav1.GetOptions{})
	require.NoError(t, err, "kube2iam's DaemonSet in eks (harness.ComponentKube2iam, on by default)")
	lab.Namespace(ctx, t, e.eks, ns, "app")
	lab.Namespace(ctx, t, e.eks, otherNS, "app")
	e.allow(ctx, t, ns, `["kube2iam-app"]`)
	e.allow(ctx, t, otherNS, `["kube2iam-other"]`)
	// kube2iam caches a role's session for --iam-role-session-ttl (15m),
	// keyed by the role alone, so a run within 15 minutes of the last one
	// (make e2e-quick then make e2e on a kept lab) would be served the
	// last run's session and never ask STS. A fresh proxy makes every run
	// show the node's AssumeRole. A proxy that has logged no decision
	// has cached nothing (as after idlab up): it is fresh already.
	// A run stopped before the default-role rows put the lab's arguments
	// back leaves --default-role behind: take it out first.
	e.setDefaultRole(ctx, t, "")
	if n := e.decisionsLogged(ctx, t); n > 0 {
		t.Logf("kube2iam has logged %d decisions: restarting it for an empty session cache", n)
		e.stopKube2iam(ctx, t)
		e.startKube2iam(ctx, t)
	}

	t.Run("isolation", func(t *testing.T) { e.isolation(ctx, t) })
	t.Run("identity-bugs", func(t *testing.T) { e.identityBugs(ctx, t) })
	t.Run("default-role", func(t *testing.T) { e.defaultRole(ctx, t) })
	t.Run("external-id-cache", func(t *testing.T) { e.externalIDCache(ctx, t) })
	t.Run("ip-reuse", func(t *testing.T) { e.ipReuse(ctx, t) })
	t.Run("multi-node", func(t *testing.T) { e.multiNode(ctx, t) })
}

// allow sets a namespace's allowed-roles annotation.
func (e *env) allow(ctx context.Context, t *testing.T, name, roles string) {
	t.Helper()
	n, err := e.eks.CS.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	n.Annotations[allowKey] = roles
	_, err = e.eks.CS.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// run starts a probe pod as an application on the node would run: IMDS
// on (the default), the role annotation when role is set; it returns the
// probe's result and the pod's IP.
func (e *env) run(ctx context.Context, t *testing.T, namespace, name, role string) (probe.Result, string) {
	t.Helper()
	var annotations map[string]string
	if role != "" {
		annotations = map[string]string{roleKey: role}
	}
	return e.runAnnotated(ctx, t, namespace, name, annotations)
}

// runAnnotated is run with the pod's annotations given whole.
func (e *env) runAnnotated(ctx context.Context, t *testing.T, namespace, name string, annotations map[string]string) (probe.Result, string) {
	t.Helper()
	return e.runPod(ctx, t, namespace, e.imdsPod(name, annotations))
}

// imdsPod is the probe pod run starts: it asks the metadata address for
// credentials, as an application on the node would.
func (e *env) imdsPod(name string, annotations map[string]string) *corev1.Pod {
	p := podrun.WithArgs(podrun.PlainPod(name, "app", e.lab.ProbeImage), "imds-creds")
	c := &p.Spec.Containers[0]
	var envs []corev1.EnvVar
	for _, v := range c.Env {
		if v.Name != "AWS_EC2_METADATA_DISABLED" {
			envs = append(envs, v)
		}
	}
	c.Env = append(envs, corev1.EnvVar{Name: "AWS_REGION", Value: region})
	p.Annotations = annotations
	return p
}

// runPod runs p to its end in namespace and returns the probe's result and
// the pod's IP.
func (e *env) runPod(ctx context.Context, t *testing.T, namespace string, p *corev1.Pod) (probe.Result, string) {
	t.Helper()
	res, err := podrun.Run(ctx, e.eks.CS, namespace, p)
	require.NoError(t, err)
	got, err := e.eks.CS.CoreV1().Pods(namespace).Get(ctx, p.Name, metav1.GetOptions{})
	require.NoError(t, err)
	return res, got.Status.PodIP
}

// proxyDecisions are kube2iam's decisions about ip since start, from the
// proxy pods' logs.
func (e *env) proxyDecisions(ctx context.Context, t *testing.T, ip string, since time.Time) []decision {
	t.Helper()
	pods, err := e.eks.CS.CoreV1().Pods(harness.SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=kube2iam"})
	require.NoError(t, err)
	st := metav1.NewTime(since.Add(-time.Second))
	var out []decision
	for _, p := range pods.Items {
		raw, err := e.eks.CS.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: "kube2iam", SinceTime: &st}).DoRaw(ctx)
		if err != nil {
			continue
		}
		out = append(out, slices.DeleteFunc(parseDecisions(raw), func(d decision) bool { return d.RemoteIP != ip })...)
	}
	return out
}

// decisionsLogged counts the decisions the proxies have logged, on every
// node, since they started.
func (e *env) decisionsLogged(ctx context.Context, t *testing.T) int {
	t.Helper()
	n := 0
	for _, node := range e.lab.Clusters["eks"].NodeNames() {
		n += len(parseDecisions(e.eks.NodeAgentLog(ctx, t, "kube2iam", "kube2iam", node, time.Unix(0, 0))))
	}
	return n
}

// status is the HTTP status the probe saw at the metadata endpoint.
func status(res probe.Result) string {
	if res.OK {
		return "allow"
	}
	s, _, _ := strings.Cut(res.Output, " ")
	return s
}

// sdkTimeout in a row's sdkErr stands for the SDK's IMDS client giving
// up on time (waiting for headers, dialing, or the call's deadline) or,
// when kube2iam's refusal came within the client's wait, reading that
// 404 itself (seen once, in a CI run with a load of 40 on 2 cores).
const sdkTimeout = "(the SDK's IMDS client timed out or read the 404)"

// sdkGaveUp are the SDK's messages sdkTimeout accepts.
var sdkGaveUp = []string{"timeout awaiting response headers", "dial tcp 169.254.169.254:80: i/o timeout",
	"operation error ec2imds: GetMetadata, canceled, context deadline exceeded",
	"operation error ec2imds: GetMetadata, http response error StatusCode: 404, request to EC2 IMDS failed"}

func (e *env) isolation(ctx context.Context, t *testing.T) {
	notValid := func(role, namespace string) string {
		return "role requested " + role + " not valid for namespace of pod at %s with namespace " + namespace
	}
	// kube2iam retries the pod lookup for --backoff-max-elapsed-time (2s)
	// before it refuses; aws-sdk-go-v2's IMDS client waits 500ms for
	// response headers, so the SDK gives up on a timeout before the 404
	// arrives. The probe's own GET (3s) reads the refusal. The client
	// also dials for at most 250ms (feature/ec2/imds v1.20.7
	// api_client.go defaultDialerTimeout), which a loaded node can take
	// to reach the proxy, and on a slower answer the probe's own deadline
	// for the SDK call may end its retries first: each of the three is
	// the SDK giving up before the refusal, which is what the row shows.
	// Should the refusal come in time, the SDK reports the 404 itself.
	timedOut := []string{"no EC2 IMDS role found", sdkTimeout}
	tests := []isolationRow{
		{name: "own-role", namespace: ns, role: "kube2iam-app", wantRole: "kube2iam-app"},
		{name: "role-outside-allowed-roles", namespace: ns, role: "kube2iam-other", status: 404, text: notValid(otherRole, ns), sdkErr: timedOut},
		{name: "other-namespaces-role", namespace: otherNS, role: "kube2iam-app", status: 404, text: notValid(appRole, otherNS), sdkErr: timedOut},
		// With --base-role-arn and no --default-role, upstream's mapper
		// takes the base ARN as the default role: the pod lists an empty
		// role at once (upstream's e2e TestUnannotatedPodNoCredentials).
		{name: "unannotated", namespace: ns, status: 200, text: "", sdkErr: []string{"unexpected empty EC2 IMDS role list"}},
	}
	row := func(t *testing.T, tc isolationRow) {
		t.Run(tc.name, func(t *testing.T) {
			since, start := e.lab.LastDecisionID(ctx, t), time.Now()
			res, ip := e.run(ctx, t, tc.namespace, tc.name, tc.role)
			ds := e.proxyDecisions(ctx, t, ip, start)
			require.NotEmpty(t, ds, "kube2iam must have logged a decision for %s", ip)
			d := ds[len(ds)-1]
			stsDs := e.lab.DecisionsSince(ctx, t, since, "sts:AssumeRole", roleARN(tc.role))
			expected := "allow"
			if tc.wantRole == "" {
				expected = fmt.Sprint(tc.status)
			}
			reason := "kube2iam " + d.Decision + ": " + d.Reason + ": " + d.Error
			if d.Decision == "Allow" && len(stsDs) > 0 {
				reason = "kube2iam Allow: " + d.Role + " for " + d.Pod + "; STS " + stsDs[len(stsDs)-1].Effect + ": " + stsDs[len(stsDs)-1].Reason
			}
			labenv.Row(t, labenv.Outcome{Suite: suite, Scenario: tc.name, Mechanism: mechanism, Expected: expected, Observed: status(res), Reason: reason})
			if tc.wantRole != "" {
				require.True(t, res.OK, "%s: %s (%s)", res.ErrorCode, res.ErrorMessage, res.Output)
				require.True(t, strings.HasPrefix(res.Arn, "arn:aws:sts::"+account+":assumed-role/"+tc.wantRole+"/"), res.Arn)
				require.Equal(t, "Allow", d.Decision)
				require.NotEmpty(t, stsDs, "the node assumed the role at STS")
				require.Equal(t, "Allow", stsDs[len(stsDs)-1].Effect)
				return
			}
			require.False(t, res.OK, "%s must be refused, got %s", tc.name, res.Arn)
			require.Equal(t, "ClientError", res.ErrorCode)
			for _, s := range tc.sdkErr {
				if s == sdkTimeout {
					require.True(t, slices.ContainsFunc(sdkGaveUp, func(m string) bool { return strings.Contains(res.ErrorMessage, m) }),
						"the SDK's IMDS client neither timed out nor read the 404: %s", res.ErrorMessage)
					continue
				}
				require.Contains(t, res.ErrorMessage, s)
			}
			want := tc.text
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, ip)
			}
			require.Equal(t, fmt.Sprintf("%d %s", tc.status, want), res.Output, "the proxy's status and text in the pod")
			require.Equal(t, "Deny", d.Decision)
			require.Equal(t, tc.status, d.Status)
			require.Equal(t, want, d.Error)
			require.Empty(t, stsDs, "the node never asked STS for a refused role")
		})
	}
	// The refusals wait out kube2iam's backoff (2 s) and the SDK's
	// timeouts, so they run side by side; they ask for different roles,
	// and no other pod asks for either meanwhile, so each row's "never
	// asked STS" holds for it alone. The allowed row, which makes the node
	// assume kube2iam-app, comes after them: beside other-namespaces-role
	// it would break that check.
	var wg sync.WaitGroup
	for _, tc := range tests[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			row(t, tc)
		}()
	}
	wg.Wait()
	row(t, tests[0])

	// The test of the test: the namespace rows are refused because of the
	// annotation; widen it and the same pod gets the role.
	t.Run("role-outside-allowed-roles-widened", func(t *testing.T) {
		e.allow(ctx, t, ns, `["kube2iam-*"]`)
		defer e.allow(ctx, t, ns, `["kube2iam-app"]`)
		res, _ := e.run(ctx, t, ns, "widened", "kube2iam-other")
		require.True(t, res.OK, "with allowed-roles widened the refused row is allowed: %s %s", res.ErrorMessage, res.Output)
		require.Contains(t, res.Arn, "assumed-role/kube2iam-other/")
	})
}

// isolationRow is a row of isolation.
type isolationRow struct {
	name, namespace, role string
	wantRole              string   // assumed role when allowed
	status                int      // kube2iam's answer to the role list when refused
	text                  string   // its text, %s the pod IP
	sdkErr                []string // in the SDK's error
}

func roleARN(role string) string {
	if role == "" {
		return base + "(none)"
	}
	return base + role
}

// identityBugs stops kube2iam (a node just rebooted: no DNAT, no proxy),
// runs pods that reach the node's metadata directly, then restores it.
func (e *env) identityBugs(ctx context.Context, t *testing.T) {
	nodeARN := "arn:aws:sts::" + account + ":assumed-role/eks-node/" + harness.InstanceID("eks")
	instance := "arn:aws:ec2:" + region + ":" + account + ":instance/" + harness.InstanceID("eks")
	setHopLimit := func(n int) {
		require.NoError(t, e.lab.Admin(ctx, http.MethodPost, fmt.Sprintf("/_idlab/imds/eks?hop-limit=%d", n), nil, nil))
	}
	t.Cleanup(func() { setHopLimit(harness.NodeHopLimit) })

	e.stopKube2iam(ctx, t)
	restored := false
	t.Cleanup(func() {
		if !restored {
			e.startKube2iam(context.Background(), t)
		}
	})
	dropped, err := harness.DropKube2iamRule(ctx, "eks")
	require.NoError(t, err)
	require.Equal(t, len(e.lab.Clusters["eks"].NodeNames()), dropped, "the proxy's DNAT was there to drop, one on each node")

	t.Run("metadata-proxy-not-ready-at-pod-start", func(t *testing.T) {
		res, _ := e.run(ctx, t, ns, "race", "kube2iam-app")
		labenv.Row(t, labenv.Outcome{Suite: suite, Scenario: "metadata proxy not ready at pod start (jtblin/kube2iam#170)", Mechanism: mechanism,
			Expected: "allow: " + nodeARN, Observed: labenv.Observed(res.OK, res.ErrorCode) + ": " + res.Arn,
			Reason: "no kube2iam DNAT yet: the pod reached the node's IMDS (hop limit 2) and got the instance profile"})
		require.True(t, res.OK, "%s: %s (%s)", res.ErrorCode, res.ErrorMessage, res.Output)
		require.Equal(t, nodeARN, res.Arn, "the annotated pod got the NODE's role, not kube2iam-app")
	})

	t.Run("imdsv2-hop-limit-1-on-the-bridge", func(t *testing.T) {
		setHopLimit(1)
		since := e.lab.LastDecisionID(ctx, t)
		res, _ := e.run(ctx, t, ns, "hop-limit", "kube2iam-app")
		put := e.lab.DecisionsSince(ctx, t, since, "imds:PutToken", instance)
		get := e.lab.DecisionsSince(ctx, t, since, "imds:GetMetadata", instance)
		reason := ""
		if len(put) > 0 {
			reason = put[len(put)-1].Reason
		}
		labenv.Row(t, labenv.Outcome{Suite: suite, Scenario: "IMDSv2 hop limit 1, pod on the bridge (aws-load-balancer-controller#3358)", Mechanism: mechanism,
			Expected: "ClientError", Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: reason})
		require.False(t, res.OK, "two hops over a limit of one must get nothing, got %s", res.Arn)
		require.Equal(t, "ClientError", res.ErrorCode)
		// The token PUT gets no answer, so the SDK falls back to IMDSv1,
		// which HttpTokens=required refuses (401) until its 5s operation
		// timeout.
		require.Contains(t, res.ErrorMessage, "no EC2 IMDS role found")
		require.NotEmpty(t, put, "IMDS dropped the token response")
		require.Contains(t, put[len(put)-1].Reason, "HopLimitExceeded")
		require.NotEmpty(t, get, "IMDS refused the IMDSv1 fallback")
		require.Contains(t, get[len(get)-1].Reason, "Unauthorized")
	})

	e.startKube2iam(ctx, t)
	restored = true

	t.Run("imdsv2-hop-limit-1-behind-kube2iam", func(t *testing.T) {
		setHopLimit(1)
		res, _ := e.run(ctx, t, ns, "hop-limit-proxied", "kube2iam-app")
		labenv.Row(t, labenv.Outcome{Suite: suite, Scenario: "IMDSv2 hop limit 1 behind kube2iam", Mechanism: mechanism,
			Expected: "allow", Observed: labenv.Observed(res.OK, res.ErrorCode),
			Reason: "the proxy's requests to IMDS start on the node: one hop"})
		require.True(t, res.OK, "%s: %s (%s)", res.ErrorCode, res.ErrorMessage, res.Output)
		require.Contains(t, res.Arn, "assumed-role/kube2iam-app/")
	})
}

// stopKube2iam takes the proxy off the node (a nodeSelector nothing
// matches) and waits until its pods are gone.
func (e *env) stopKube2iam(ctx context.Context, t *testing.T) {
	t.Helper()
	ds := e.eks.CS.AppsV1().DaemonSets(harness.SystemNamespace)
	d, err := ds.Get(ctx, "kube2iam", metav1.GetOptions{})
	require.NoError(t, err)
	d.Spec.Template.Spec.NodeSelector = map[string]string{"idlab.dev/kube2iam": "off"}
	_, err = ds.Update(ctx, d, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		pods, err := e.eks.CS.CoreV1().Pods(harness.SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=kube2iam"})
		return err == nil && len(pods.Items) == 0
	}, 2*time.Minute, time.Second, "kube2iam pods must be gone")
}

// startKube2iam puts the proxy back and waits until it is ready (its init
// container has installed the DNAT again).
func (e *env) startKube2iam(ctx context.Context, t *testing.T) {
	t.Helper()
	ds := e.eks.CS.AppsV1().DaemonSets(harness.SystemNamespace)
	d, err := ds.Get(ctx, "kube2iam", metav1.GetOptions{})
	require.NoError(t, err)
	d.Spec.Template.Spec.NodeSelector = nil
	_, err = ds.Update(ctx, d, metav1.UpdateOptions{})
	require.NoError(t, err)
	e.waitKube2iam(ctx, t)
}

// waitKube2iam waits until the DaemonSet's current template runs ready on
// every node.
func (e *env) waitKube2iam(ctx context.Context, t *testing.T) {
	t.Helper()
	ds := e.eks.CS.AppsV1().DaemonSets(harness.SystemNamespace)
	require.Eventually(t, func() bool {
		d, err := ds.Get(ctx, "kube2iam", metav1.GetOptions{})
		return err == nil && d.Status.ObservedGeneration >= d.Generation && d.Status.DesiredNumberScheduled > 0 &&
			d.Status.UpdatedNumberScheduled == d.Status.DesiredNumberScheduled && d.Status.NumberReady == d.Status.DesiredNumberScheduled
	}, 2*time.Minute, time.Second, "kube2iam must be ready again")
}
