//go:build e2e

package migration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/idlab/idlab/components/irsawebhook"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/iamimport"
	"github.com/idlab/idlab/harness/kubeclient"
	"github.com/idlab/idlab/scenarios/kit/labenv"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/pyprobe"
)

// The Deployments: the app as migrated, and the same app without the
// SigV4 config (botocore's default presign).
const (
	app        = "profile-app"
	appDefault = "profile-app-default"
	// browser is the service account of the pods that fetch the links,
	// the app's users; it has no AWS identity.
	browser = "browser"
)

// TestStaticKeysToIRSA migrates the walk-throughs' profile app from static
// keys to IRSA in the lab's eks cluster, row by row in the migration's
// order (rows_test.go says what each expects): static-keys, the
// leaked key used from outside the cluster, the key deactivated, then the
// Secret removed and the service account annotated: irsa, botocore's
// default presign, and the session's links once its session has expired
// (migration-app's sessions aged by the lab clock of that role alone).
// Each row checks what the app's user got from the link (a pod running
// probe.py fetch-link against the app's Service) and the emulator's
// decision on it.
func TestStaticKeysToIRSA(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	lab := labenv.Open(t)
	eks := lab.Cluster(t, "eks")
	require.NotEmpty(t, lab.PyClientImage, "the lab was brought up without the Python client image (idlab up --pyclient)")
	lab.Namespace(ctx, t, eks, Namespace, ServiceAccount, browser)
	require.NoError(t, pyprobe.Install(ctx, eks.CS, Namespace))
	hc, err := lab.HTTPClient()
	require.NoError(t, err)

	// The operator's side: a new access key of StaticUser, through the
	// IAM API as the account's admin.
	var admin struct{ AccessKeyId, SecretAccessKey string }
	require.NoError(t, lab.Admin(ctx, http.MethodPost, "/_idlab/iam/admins/"+Account, nil, &admin))
	key := newStaticKey(ctx, t, iamimport.NewClient(lab.EmulatorURL, hc, aws.Credentials{AccessKeyID: admin.AccessKeyId, SecretAccessKey: admin.SecretAccessKey}))
	k := kube{c: eks}

	// Before the migration: the key in a Secret, the app reading it.
	k.create(ctx, t, AppConfigMap())
	k.create(ctx, t, KeysSecretFor(key.key.AccessKeyID, key.key.SecretAccessKey))
	k.create(ctx, t, Service(app))
	k.create(ctx, t, Deployment(app, AppOptions{Image: lab.PyClientImage, StaticKeys: true, SigV4: true}))
	k.rolledOut(ctx, t, app)

	f := fetcher{lab: lab, eks: eks}
	t.Run(rowStatic.name, func(t *testing.T) {
		f.row(ctx, t, rowStatic, pyprobe.FetchLinkArgs(ProfileURL(app)), "", func(d harness.Decision) {
			require.Equal(t, StaticUserARN, d.Principal)
		})
	})
	outside := outsideS3(lab.EmulatorURL, hc, key.key)
	t.Run(rowLeak.name, func(t *testing.T) {
		since := lab.LastDecisionID(ctx, t)
		text, err := readProfile(ctx, outside)
		d := f.decision(ctx, t, rowLeak, since)
		reason := fmt.Sprintf("the Secret's key from the test process at %s; %s: %s", lab.EmulatorURL, d.Effect, d.Reason)
		if err != nil {
			reason = err.Error() + "; " + reason
		}
		labenv.Row(t, labenv.Outcome{Suite: suite, Scenario: rowLeak.name, Mechanism: rowLeak.mechanism, Expected: rowLeak.expected(),
			Observed: observedSDK(err), Reason: reason})
		rowLeak.checkOutside(t, text, err)
		rowLeak.checkDecision(t, d.Effect, d.Principal, d.Reason, d.Explanation())
		require.Equal(t, StaticUserARN, d.Principal)
	})
	t.Run(rowDeactivated.name, func(t *testing.T) {
		key.set(ctx, t, iamtypes.StatusTypeInactive)
		f.row(ctx, t, rowDeactivated, pyprobe.FetchLinkArgs(ProfileURL(app)), "", func(d harness.Decision) {
			require.Equal(t, StaticUserARN, d.Principal)
			require.Contains(t, d.Reason, key.key.AccessKeyID)
		})
		_, err := readProfile(ctx, outside)
		rowDeactivated.checkOutside(t, "", err)
	})
	require.NoError(t, key.delete(ctx), "the leaked key goes")

	// The migration: the service account annotated, the Secret gone, the
	// same code rolled out again.
	sinceMigration := lab.LastDecisionID(ctx, t)
	k.annotate(ctx, t, ServiceAccount, irsawebhook.AnnotationRoleARN, RoleARN)
	k.update(ctx, t, app, func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].EnvFrom = nil })
	require.NoError(t, eks.CS.CoreV1().Secrets(Namespace).Delete(ctx, KeysSecret, metav1.DeleteOptions{}))
	k.rolledOutWithIRSA(ctx, t, app)

	var link string
	t.Run(rowIRSA.name, func(t *testing.T) {
		got := f.row(ctx, t, rowIRSA, pyprobe.FetchLinkArgs(ProfileURL(app)), "", nil)
		link = got.Link
		require.Contains(t, link, "X-Amz-Security-Token=", "a session's link")
		sts := lab.DecisionsSince(ctx, t, sinceMigration, "sts:AssumeRoleWithWebIdentity", RoleARN)
		require.NotEmpty(t, sts, "the app's boto3 must have assumed %s", RoleARN)
		require.Equal(t, "Allow", sts[len(sts)-1].Effect, sts[len(sts)-1].Explanation())
	})
	t.Run(rowDefault.name, func(t *testing.T) {
		k.create(ctx, t, Service(appDefault))
		k.create(ctx, t, Deployment(appDefault, AppOptions{Image: lab.PyClientImage}))
		k.rolledOutWithIRSA(ctx, t, appDefault)
		f.row(ctx, t, rowDefault, pyprobe.FetchLinkArgs(ProfileURL(appDefault)), "", nil)
	})
	t.Run(rowExpired.name, func(t *testing.T) {
		// A fresh link, fetched while its session lives ...
		got := f.fetch(ctx, t, "fetch-before-expiry", pyprobe.FetchLinkArgs(ProfileURL(app)))
		rowIRSA.checkFetch(t, got.Fetch, got.out)
		// ... and again once the session has expired.
		var moved aged
		require.NoError(t, lab.Admin(ctx, http.MethodPost, agePath, nil, &moved))
		require.Positive(t, moved.SessionsAged, "migration-app's sessions")
		f.row(ctx, t, rowExpired, pyprobe.FetchURLArgs(got.Link), fmt.Sprintf("%d of migration-app's sessions aged 90m; ", moved.SessionsAged), nil)
	})
}

// observedSDK is the Observed column of the outside client's row.
func observedSDK(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return labenv.Observed(false, ae.ErrorCode())
	}
	return labenv.Observed(err == nil, "")
}

// fetcher runs the app's users: pods that fetch links.
type fetcher struct {
	lab *labenv.Lab
	eks *labenv.Cluster
}

// fetched is a fetch's line and the pod's log.
type fetched struct {
	pyprobe.Fetch
	out string
}

// fetch runs probe.py with args in a pod named name.
func (f fetcher) fetch(ctx context.Context, t *testing.T, name string, args []string) fetched {
	t.Helper()
	pod := pyprobe.Use(podrun.PlainPod(name, browser, f.lab.PyClientImage), pyprobe.Boto3, args...)
	_, out, err := podrun.RunWithin(ctx, f.eks.CS, Namespace, pod, 3*time.Minute)
	require.NoError(t, err)
	got, err := pyprobe.ParseFetch(out)
	require.NoError(t, err, out)
	return fetched{Fetch: got, out: out}
}

// row fetches args in a pod named after r, logs r's matrix row (note
// prefixes its reason) and checks the fetch and the emulator's decision;
// more, when not nil, checks more of the decision.
func (f fetcher) row(ctx context.Context, t *testing.T, r row, args []string, note string, more func(harness.Decision)) pyprobe.Fetch {
	t.Helper()
	since := f.lab.LastDecisionID(ctx, t)
	got := f.fetch(ctx, t, "fetch-"+r.name, args)
	d := f.decision(ctx, t, r, since)
	labenv.Row(t, labenv.Outcome{Suite: suite, Scenario: r.name, Mechanism: r.mechanism, Expected: r.expected(),
		Observed: labenv.Observed(got.OK, got.ErrorCode),
		Reason:   fmt.Sprintf("%s%s link for %s: HTTP %d %s; %s: %s", note, got.Signature, got.Host, got.Status, got.ErrorCode, d.Effect, d.Reason)})
	r.checkFetch(t, got.Fetch, got.out)
	r.checkDecision(t, d.Effect, d.Principal, d.Reason, d.Explanation())
	if more != nil {
		more(d)
	}
	return got.Fetch
}

// decision is the newest decision on r's action and the profile image by
// r's principal since since (an empty one when there is none, which the
// row's check then fails on).
func (f fetcher) decision(ctx context.Context, t *testing.T, r row, since int64) harness.Decision {
	t.Helper()
	ds := f.lab.DecisionsOf(ctx, t, labenv.DecisionQuery{Since: since, Action: r.action, Resource: ObjectARN, Principal: r.principal})
	if len(ds) == 0 {
		return harness.Decision{Reason: fmt.Sprintf("no %s decision on %s by %s", r.action, ObjectARN, r.principal)}
	}
	return ds[len(ds)-1]
}

// kube makes and changes the suite's objects in eks.
type kube struct{ c *labenv.Cluster }

// create makes obj (a ConfigMap, Secret, Service or Deployment) in the
// suite's namespace.
func (k kube) create(ctx context.Context, t *testing.T, obj any) {
	t.Helper()
	cs := k.c.CS
	var err error
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		c := cs.CoreV1().ConfigMaps(Namespace)
		_, err = kubeclient.Create(ctx, func(ctx context.Context) (*corev1.ConfigMap, error) { return c.Create(ctx, o, metav1.CreateOptions{}) },
			func(ctx context.Context) (*corev1.ConfigMap, error) { return c.Get(ctx, o.Name, metav1.GetOptions{}) })
	case *corev1.Secret:
		c := cs.CoreV1().Secrets(Namespace)
		_, err = kubeclient.Create(ctx, func(ctx context.Context) (*corev1.Secret, error) { return c.Create(ctx, o, metav1.CreateOptions{}) },
			func(ctx context.Context) (*corev1.Secret, error) { return c.Get(ctx, o.Name, metav1.GetOptions{}) })
	case *corev1.Service:
		c := cs.CoreV1().Services(Namespace)
		_, err = kubeclient.Create(ctx, func(ctx context.Context) (*corev1.Service, error) { return c.Create(ctx, o, metav1.CreateOptions{}) },
			func(ctx context.Context) (*corev1.Service, error) { return c.Get(ctx, o.Name, metav1.GetOptions{}) })
	case *appsv1.Deployment:
		c := cs.AppsV1().Deployments(Namespace)
		_, err = kubeclient.Create(ctx, func(ctx context.Context) (*appsv1.Deployment, error) { return c.Create(ctx, o, metav1.CreateOptions{}) },
			func(ctx context.Context) (*appsv1.Deployment, error) { return c.Get(ctx, o.Name, metav1.GetOptions{}) })
	default:
		t.Fatalf("kube.create: %T", obj)
	}
	require.NoError(t, err)
}

// annotate sets an annotation of the service account.
func (k kube) annotate(ctx context.Context, t *testing.T, sa, key, value string) {
	t.Helper()
	c := k.c.CS.CoreV1().ServiceAccounts(Namespace)
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := c.Get(ctx, sa, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[key] = value
		_, err = c.Update(ctx, s, metav1.UpdateOptions{})
		return err
	}))
}

// update changes the Deployment name with change.
func (k kube) update(ctx context.Context, t *testing.T, name string, change func(*appsv1.Deployment)) {
	t.Helper()
	c := k.c.CS.AppsV1().Deployments(Namespace)
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := c.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(d)
		_, err = c.Update(ctx, d, metav1.UpdateOptions{})
		return err
	}))
}

// rolledOut waits until the Deployment name's current spec runs in one
// ready pod, no other pod of it is left and its Service sends to that pod
// alone, and returns the pod.
func (k kube) rolledOut(ctx context.Context, t *testing.T, name string) corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		d, err := k.c.CS.AppsV1().Deployments(Namespace).Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		pods, err := k.c.CS.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		require.NoError(t, err)
		s := d.Status
		if s.ObservedGeneration >= d.Generation && s.Replicas == 1 && s.UpdatedReplicas == 1 && s.ReadyReplicas == 1 &&
			s.AvailableReplicas == 1 && len(pods.Items) == 1 && pods.Items[0].DeletionTimestamp == nil && ready(pods.Items[0]) &&
			k.serves(ctx, t, name, pods.Items[0].Status.PodIP) {
			return pods.Items[0]
		}
		require.True(t, time.Now().Before(deadline), "deployment %s not rolled out: %+v; pods: %s", name, s, describePods(pods.Items))
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// serves reports whether the Service name's endpoints are exactly ip,
// ready: where the fetching pods' requests go.
func (k kube) serves(ctx context.Context, t *testing.T, name, ip string) bool {
	t.Helper()
	eps, err := k.c.CS.DiscoveryV1().EndpointSlices(Namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + name})
	require.NoError(t, err)
	var ready []string
	for _, sl := range eps.Items {
		for _, e := range sl.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				ready = append(ready, e.Addresses...)
			}
		}
	}
	return len(ready) == 1 && ready[0] == ip
}

// rolledOutWithIRSA is rolledOut for a pod the IRSA webhook must have
// mutated (AWS_ROLE_ARN set to RoleARN) and that has no static key. The
// webhook reads service accounts from a watch: a pod created right after
// the annotation may still be admitted without it, as upstream's would
// be; such a pod is deleted for its ReplicaSet to make another, as a user
// would roll out again, at most twice.
func (k kube) rolledOutWithIRSA(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	for try := 0; ; try++ {
		p := k.rolledOut(ctx, t, name)
		env := map[string]string{}
		for _, e := range p.Spec.Containers[0].Env {
			env[e.Name] = e.Value
		}
		require.Empty(t, p.Spec.Containers[0].EnvFrom, "no Secret after the migration")
		if env["AWS_ROLE_ARN"] == RoleARN {
			require.NotContains(t, env, "AWS_ACCESS_KEY_ID")
			return
		}
		require.Less(t, try, 2, "the IRSA webhook did not mutate %s's pod %s (env %v)", name, p.Name, env)
		t.Logf("pod %s admitted before the webhook saw the annotation; deleting it", p.Name)
		require.NoError(t, k.c.CS.CoreV1().Pods(Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}))
	}
}

func ready(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func describePods(pods []corev1.Pod) string {
	var b strings.Builder
	for _, p := range pods {
		fmt.Fprintf(&b, "%s %s ready=%v deleting=%v; ", p.Name, p.Status.Phase, ready(p), p.DeletionTimestamp != nil)
		for _, s := range p.Status.ContainerStatuses {
			if s.State.Waiting != nil {
				fmt.Fprintf(&b, "%s waiting: %s %s; ", s.Name, s.State.Waiting.Reason, s.State.Waiting.Message)
			}
		}
	}
	return b.String()
}
