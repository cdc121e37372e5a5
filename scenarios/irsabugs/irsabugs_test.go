//go:build e2e

// Package irsabugs reproduces identity bugs people hit with IRSA as
// scenarios: each row cites the public issue it reproduces and shows what
// happens today with the lab's webhook, the real kubelet and the unmodified
// aws-sdk-go-v2, checked from the pod's own result and the emulator's
// decision log. The pods go through the IRSA webhook the lab runs in eks,
// except where a row needs a hand-made token volume.
package irsabugs

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

// ns, account, appRole, slashRole, clientIDRole, eksIssuer and
// defaultIssuer are in denials_test.go, shared with the suite's test of its
// tests.
const (
	region    = "us-west-2"
	stsAction = "sts:AssumeRoleWithWebIdentity"
	initName  = "init-probe"
	tokenPath = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
	appARN    = "arn:aws:sts::" + account + ":assumed-role/irsabugs-app/"
)

// fixture prepares the namespace with the service accounts the rows use:
// app (role irsabugs-app; the webhook adds AWS_STS_REGIONAL_ENDPOINTS, as
// the lab runs it with --sts-regional-endpoint=true) and legacy (the same
// role, opted out with eks.amazonaws.com/sts-regional-endpoints: "false").
func fixture(ctx context.Context, t *testing.T) (*labenv.Lab, *labenv.Cluster) {
	t.Helper()
	lab := labenv.Open(t)
	eks := lab.Cluster(t, "eks")
	lab.Namespace(ctx, t, eks, ns)
	for name, ann := range map[string]map[string]string{
		"app":    {"eks.amazonaws.com/role-arn": appRole},
		"legacy": {"eks.amazonaws.com/role-arn": appRole, "eks.amazonaws.com/sts-regional-endpoints": "false"},
	} {
		_, err := eks.CS.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	return lab, eks
}

// withInit adds an init container running the probe with args, as the
// main container is (same image, CA and environment).
func withInit(p *corev1.Pod, args ...string) *corev1.Pod {
	c := *p.Spec.Containers[0].DeepCopy()
	c.Name, c.Args = initName, args
	p.Spec.InitContainers = append(p.Spec.InitContainers, c)
	return p
}

func env(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

func container(p *corev1.Pod, name string) corev1.Container {
	for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
		if c.Name == name {
			return c
		}
	}
	return corev1.Container{}
}

func mounted(c corev1.Container) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/var/run/secrets/eks.amazonaws.com/serviceaccount" {
			return true
		}
	}
	return false
}

// run creates pod, waits for its probe and returns the pod as admitted
// (after the webhook), the probe's result and the STS decisions on role
// it caused.
func run(ctx context.Context, t *testing.T, lab *labenv.Lab, eks *labenv.Cluster, pod *corev1.Pod, role string) (*corev1.Pod, probe.Result, []harness.Decision) {
	t.Helper()
	since := lab.LastDecisionID(ctx, t)
	res, err := podrun.Run(ctx, eks.CS, ns, pod)
	require.NoError(t, err)
	got, err := eks.CS.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
	require.NoError(t, err)
	return got, res, lab.DecisionsSince(ctx, t, since, stsAction, role)
}

// mechanism names how a row's pod got its token: through the lab's IRSA
// webhook, or a hand-made projected volume (podrun.IRSAPod).
const (
	viaWebhook = "IRSA webhook (eks)"
	byHand     = "IRSA (eks)"
)

func row(t *testing.T, mechanism, scenario, issue, expected string, res probe.Result, reason string) {
	t.Helper()
	labenv.Row(t, labenv.Outcome{Suite: "irsa bugs", Scenario: scenario, Mechanism: mechanism,
		Expected: expected, Observed: labenv.Observed(res.OK, res.ErrorCode), Reason: strings.TrimSpace(reason + " [" + issue + "]")})
}

// TestInitContainers: the webhook mutates init containers as it does the
// others, so one that needs AWS (fetching config from S3 before the app
// starts) gets the token and the environment; skip-containers naming the
// init container leaves exactly that one alone.
//
// Reproduces aws/amazon-eks-pod-identity-webhook#109 (an init container
// that pulls from S3 needs the credentials), #123 (skip-containers
// reported to have no effect) and #208 with kubernetes/kops#16802 (the
// webhook dropped a native sidecar's restartPolicy: Always, and a sidecar
// with a readinessProbe was then refused by the API server).
func TestInitContainers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lab, eks := fixture(ctx, t)

	tests := []struct {
		name      string
		issue     string
		skip      string // eks.amazonaws.com/skip-containers
		sidecar   bool   // the init container is a native sidecar with a readinessProbe
		initCreds bool   // the init container is mutated and gets the role
	}{
		{name: "init-container-gets-credentials", issue: "aws/amazon-eks-pod-identity-webhook#109", initCreds: true},
		{name: "skip-containers-names-init", issue: "aws/amazon-eks-pod-identity-webhook#123", skip: initName},
		{name: "sidecar-keeps-restart-policy", issue: "aws/amazon-eks-pod-identity-webhook#208", sidecar: true, initCreds: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := withInit(podrun.PlainPod(tc.name, "app", lab.ProbeImage))
			if tc.skip != "" {
				pod.Annotations = map[string]string{"eks.amazonaws.com/skip-containers": tc.skip}
			}
			always := corev1.ContainerRestartPolicyAlways
			if tc.sidecar {
				// Only a sidecar may have a readinessProbe: had the webhook
				// dropped restartPolicy, the API server would refuse the pod.
				pod.Spec.InitContainers[0].RestartPolicy = &always
				pod.Spec.InitContainers[0].Args = []string{"hold"}
				pod.Spec.InitContainers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(1)}}}
			}
			got, res, ds := run(ctx, t, lab, eks, pod, appRole)
			if tc.sidecar {
				require.Equal(t, &always, container(got, initName).RestartPolicy, "the webhook kept the sidecar's restartPolicy")
			}
			// The sidecar (probe hold) prints its result and runs on: read
			// until it has printed.
			var initRes probe.Result
			require.Eventually(t, func() bool {
				var err error
				initRes, err = podrun.Result(ctx, eks.CS, ns, tc.name, initName)
				return err == nil
			}, 30*time.Second, time.Second, "the init container's probe result")

			// The main container is always mutated and gets the role.
			require.True(t, res.OK, "probe container: %s: %s", res.ErrorCode, res.ErrorMessage)
			require.True(t, strings.HasPrefix(res.Arn, appARN), res.Arn)
			initEnv := env(container(got, initName))
			expected := labenv.Observed(tc.initCreds, "ClientError")
			row(t, viaWebhook, tc.name, tc.issue, expected, initRes, "init container: AWS_ROLE_ARN="+initEnv["AWS_ROLE_ARN"]+" "+initRes.ErrorMessage)
			if tc.initCreds {
				require.Equal(t, appRole, initEnv["AWS_ROLE_ARN"])
				require.Equal(t, tokenPath, initEnv["AWS_WEB_IDENTITY_TOKEN_FILE"])
				require.True(t, mounted(container(got, initName)), "token volume mounted in the init container")
				require.True(t, initRes.OK, "init container: %s: %s", initRes.ErrorCode, initRes.ErrorMessage)
				require.True(t, strings.HasPrefix(initRes.Arn, appARN), initRes.Arn)
				require.Len(t, ds, 2, "one web identity exchange per container")
			} else {
				require.NotContains(t, initEnv, "AWS_ROLE_ARN", "skipped init container must not be mutated")
				require.NotContains(t, initEnv, "AWS_WEB_IDENTITY_TOKEN_FILE")
				require.False(t, mounted(container(got, initName)))
				require.False(t, initRes.OK, "the skipped init container has no credentials")
				require.Equal(t, "ClientError", initRes.ErrorCode, initRes.ErrorMessage)
				require.Len(t, ds, 1, "only the probe container reached STS")
			}
			for _, d := range ds {
				require.Equal(t, "Allow", d.Effect, d.Explanation())
			}
		})
	}
}

// TestNonRootToken: a container running as a non-root user reads the
// projected token. Before Kubernetes 1.19 kubelet wrote it 0600 root:root
// and a non-root process got "permission denied" unless the pod set
// fsGroup; since kubernetes/kubernetes#89193 kubelet writes it 0600 owned
// by the pods' user when every container runs as the same runAsUser, lets
// fsGroup make it group-readable (0640), and otherwise leaves the volume's
// defaultMode (0644). The rows show the mode and owner the process sees.
//
// Reproduces aws/amazon-eks-pod-identity-webhook#8 and
// kubernetes/kubernetes#82573 (non-root containers cannot read the token).
func TestNonRootToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lab, eks := fixture(ctx, t)
	user, group, fsGroup, other := int64(1000), int64(1000), int64(2000), int64(3000)

	tests := []struct {
		name     string
		fsGroup  bool
		initUser *int64 // an init container running as another user
		want     string // the probe's report, "proc=... mode=... owner=... read=..."
	}{
		{name: "non-root-run-as-user", want: `^proc=1000:1000 groups=\[1000\] mode=0600 owner=1000:0 read=ok$`},
		{name: "non-root-with-fsgroup", fsGroup: true, want: `^proc=1000:1000 groups=\[1000,2000\] mode=0640 owner=1000:2000 read=ok$`},
		{name: "non-root-users-differ", initUser: &other, want: `^proc=1000:1000 groups=\[1000\] mode=0644 owner=0:0 read=ok$`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := podrun.WithArgs(podrun.PlainPod(tc.name, "app", lab.ProbeImage), "token-file")
			pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &user, RunAsGroup: &group}
			if tc.fsGroup {
				pod.Spec.SecurityContext.FSGroup = &fsGroup
			}
			if tc.initUser != nil {
				withInit(pod, "token-file")
				pod.Spec.InitContainers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: tc.initUser}
			}
			_, res, ds := run(ctx, t, lab, eks, pod, appRole)
			require.NotEmpty(t, ds)
			row(t, viaWebhook, tc.name, "aws/amazon-eks-pod-identity-webhook#8", "allow", res, res.Output)
			t.Logf("token file as the process sees it: %s", res.Output)
			require.Regexp(t, tc.want, res.Output)
			require.True(t, res.OK, "probe failed: %s: %s (%s)", res.ErrorCode, res.ErrorMessage, res.Output)
			require.True(t, strings.HasPrefix(res.Arn, appARN), res.Arn)
			require.Equal(t, "Allow", ds[len(ds)-1].Effect, ds[len(ds)-1].Explanation())
		})
	}
}

// TestIssuerTrailingSlash: IAM keeps a trailing slash in an OIDC provider's
// URL, and STS looks the provider up by the token's iss exactly, so the
// eks issuer registered as .../id/XXX/ (account 444455556666) refuses the
// cluster's tokens, whose iss has no slash.
// TestLabIssuerSlashDenialRestsOnTheSlash (denials_test.go) shows the same
// token accepted once the slash is removed from the fixture.
//
// Reproduces aws/aws-sam-cli#7432 (a provider created with a trailing slash:
// "No OpenIDConnect provider found in your account for ...").
func TestIssuerTrailingSlash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lab, eks := fixture(ctx, t)
	// A hand-made token volume (the webhook leaves a pod that has one
	// alone), so the token is app's while the role is in the other account.
	pod := podrun.IRSAPod("issuer-trailing-slash", "app", lab.ProbeImage, slashRole, region)
	_, res, ds := run(ctx, t, lab, eks, pod, slashRole)
	require.NotEmpty(t, ds, "the rejection must be in the decision log")
	d := ds[len(ds)-1]
	row(t, byHand, "issuer-trailing-slash", "aws/aws-sam-cli#7432", "InvalidIdentityToken", res, d.Effect+": "+d.Reason)
	const msg = "No OpenIDConnect provider found in your account for " + eksIssuer
	require.False(t, res.OK, "must be refused, got %s", res.Arn)
	require.Equal(t, "InvalidIdentityToken", res.ErrorCode, res.ErrorMessage)
	require.Equal(t, msg, res.ErrorMessage)
	require.Equal(t, "Rejected", d.Effect)
	require.Equal(t, "InvalidIdentityToken: "+msg, d.Reason)
}

// TestSTSEndpoints: which STS endpoint the SDK calls. The webhook adds
// AWS_STS_REGIONAL_ENDPOINTS=regional (the lab runs it with
// --sts-regional-endpoint=true) unless the service account opts out, for
// SDKs that default to the global sts.amazonaws.com, which a private
// cluster reaching STS through a regional VPC endpoint cannot reach. In
// every row here only the regional endpoint is reachable (the pod's
// sts.amazonaws.com points at 127.0.0.1) but the last: aws-sdk-go-v2 ignores
// AWS_STS_REGIONAL_ENDPOINTS and always calls the regional endpoint of
// AWS_REGION, so it works with or without the variable, even with "legacy";
// an SDK that calls the global endpoint (here: aws-sdk-go-v2 given the
// region aws-global, as a legacy-mode SDK in us-west-2 would) fails, and
// the same pod with the global endpoint reachable succeeds.
//
// Reproduces aws/amazon-eks-pod-identity-webhook#55 and #130 (regional STS
// by flag and annotation, and as the default) and
// awsdocs/amazon-eks-user-guide#337 (private clusters need regional STS).
func TestSTSEndpoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lab, eks := fixture(ctx, t)
	unreachableGlobal := []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: []string{"sts.amazonaws.com"}}}

	tests := []struct {
		name        string
		issue       string
		sa          string
		podEnv      map[string]string // set by the application, before the webhook
		hostAliases []corev1.HostAlias
		wantEnv     string // AWS_STS_REGIONAL_ENDPOINTS in the admitted pod ("" = absent)
		wantHosts   string
		wantCode    string
	}{
		{name: "sts-regional-injected", issue: "aws/amazon-eks-pod-identity-webhook#55", sa: "app", hostAliases: unreachableGlobal,
			wantEnv: "regional", wantHosts: "sts.us-west-2.amazonaws.com"},
		{name: "sts-regional-opted-out", issue: "aws/amazon-eks-pod-identity-webhook#130", sa: "legacy", hostAliases: unreachableGlobal,
			wantHosts: "sts.us-west-2.amazonaws.com"},
		{name: "sts-legacy-ignored-by-go-v2", issue: "aws/amazon-eks-pod-identity-webhook#130", sa: "app", hostAliases: unreachableGlobal,
			podEnv: map[string]string{"AWS_STS_REGIONAL_ENDPOINTS": "legacy"}, wantEnv: "legacy", wantHosts: "sts.us-west-2.amazonaws.com"},
		{name: "sts-global-unreachable", issue: "awsdocs/amazon-eks-user-guide#337", sa: "app", hostAliases: unreachableGlobal,
			podEnv: map[string]string{"AWS_REGION": "aws-global"}, wantEnv: "regional", wantHosts: "sts.amazonaws.com", wantCode: "ClientError"},
		{name: "sts-global-reachable", issue: "awsdocs/amazon-eks-user-guide#337", sa: "app",
			podEnv: map[string]string{"AWS_REGION": "aws-global"}, wantEnv: "regional", wantHosts: "sts.amazonaws.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := podrun.WithArgs(podrun.PlainPod(tc.name, tc.sa, lab.ProbeImage), "sts-hosts")
			pod.Spec.HostAliases = tc.hostAliases
			for k, v := range tc.podEnv {
				pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{Name: k, Value: v})
			}
			got, res, ds := run(ctx, t, lab, eks, pod, appRole)
			e := env(got.Spec.Containers[0])
			reason := "AWS_STS_REGIONAL_ENDPOINTS=" + e["AWS_STS_REGIONAL_ENDPOINTS"] + " AWS_REGION=" + e["AWS_REGION"] + " " + res.Output
			if tc.wantCode != "" {
				reason += ": " + res.ErrorMessage
			}
			row(t, viaWebhook, tc.name, tc.issue, labenv.Observed(tc.wantCode == "", tc.wantCode), res, reason)
			require.Equal(t, appRole, e["AWS_ROLE_ARN"], "the webhook mutated the pod")
			require.Equal(t, tc.wantEnv, e["AWS_STS_REGIONAL_ENDPOINTS"])
			require.Equal(t, "hosts="+tc.wantHosts, strings.Fields(res.Output)[0], "the hosts the SDK sent requests to")
			if tc.wantCode != "" {
				require.False(t, res.OK, "must fail, got %s", res.Arn)
				require.Equal(t, tc.wantCode, res.ErrorCode)
				require.Regexp(t, regexp.MustCompile(`sts\.amazonaws\.com.*connection refused`), res.ErrorMessage)
				require.Empty(t, ds, "STS never heard of the pod")
				return
			}
			require.True(t, res.OK, "probe failed: %s: %s", res.ErrorCode, res.ErrorMessage)
			require.True(t, strings.HasPrefix(res.Arn, appARN), res.Arn)
			require.NotEmpty(t, ds)
			require.Equal(t, "Allow", ds[len(ds)-1].Effect, ds[len(ds)-1].Explanation())
		})
	}
}
