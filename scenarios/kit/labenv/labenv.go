// Package labenv opens the running lab for a scenario and prepares its
// namespaces: fresh, holding the lab CA and the service accounts the
// fixtures name, deleted when the test ends.
package labenv

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/idlab/idlab/components/irsawebhook"
	"github.com/idlab/idlab/components/labca"
	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/kubeclient"
	"github.com/idlab/idlab/harness/report"
	"github.com/idlab/idlab/scenarios/kit/podrun"
)

// Lab is the running lab as a scenario sees it.
type Lab struct {
	*harness.State
}

// StateDir is where `idlab up` left the lab: IDLAB_STATE_DIR when set,
// else the nearest .idlab holding a lab (lab.json) in the working directory
// or above it, so a test finds the lab of the checkout or repository it runs
// in from any package directory; else .idlab, idlab's own default, whose
// absence Open reports.
func StateDir() string {
	wd, err := os.Getwd()
	if err != nil {
		wd = "."
	}
	return findStateDir(wd, os.Getenv)
}

// DefaultStateDir is the state directory idlab uses when given none.
const DefaultStateDir = ".idlab"

// findStateDir is StateDir from the directory start.
func findStateDir(start string, getenv func(string) string) string {
	if d := getenv("IDLAB_STATE_DIR"); d != "" {
		return d
	}
	for dir := start; ; {
		cand := filepath.Join(dir, DefaultStateDir)
		if _, err := os.Stat(filepath.Join(cand, harness.StateFile)); err == nil {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return DefaultStateDir
		}
		dir = parent
	}
}

// Open reads the state of the lab in StateDir and checks the probe image
// is there.
func Open(t *testing.T) *Lab {
	t.Helper()
	st, err := harness.Open(StateDir())
	require.NoError(t, err, "is the lab up? (make up, or make e2e; a lab elsewhere: IDLAB_STATE_DIR=DIR/.idlab)")
	require.NotEmpty(t, st.ProbeImage, "the lab was brought up without the probe image")
	return &Lab{State: st}
}

// Cluster is one cluster of the lab with a client.
type Cluster struct {
	Name   string
	Region string
	CS     kubernetes.Interface
}

// Cluster returns a client for the named cluster; it waits out a
// kube-apiserver restart (kubeclient) instead of failing on its 403s.
func (l *Lab) Cluster(t *testing.T, name string) *Cluster {
	t.Helper()
	c, ok := l.Clusters[name]
	require.True(t, ok, "the lab has no %s cluster", name)
	cs, err := kubeclient.ForKubeconfig(c.Kubeconfig)
	require.NoError(t, err)
	return &Cluster{Name: name, Region: c.Region, CS: cs}
}

// Namespace makes ns afresh in c with the lab CA config map and the given
// service accounts, and deletes it when t ends.
func (l *Lab) Namespace(ctx context.Context, t *testing.T, c *Cluster, ns string, serviceAccounts ...string) {
	t.Helper()
	require.NoError(t, DeleteNamespace(ctx, c.CS, ns))
	nss, cms, sas := c.CS.CoreV1().Namespaces(), c.CS.CoreV1().ConfigMaps(ns), c.CS.CoreV1().ServiceAccounts(ns)
	_, err := kubeclient.Create(ctx,
		func(ctx context.Context) (*corev1.Namespace, error) {
			return nss.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		},
		func(ctx context.Context) (*corev1.Namespace, error) { return nss.Get(ctx, ns, metav1.GetOptions{}) })
	require.NoError(t, err)
	t.Cleanup(func() { _ = DeleteNamespace(context.Background(), c.CS, ns) })
	ca, err := l.CAPEM()
	require.NoError(t, err)
	_, err = kubeclient.Create(ctx,
		func(ctx context.Context) (*corev1.ConfigMap, error) {
			return cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: podrun.CAConfigMap}, Data: map[string]string{"ca.pem": string(ca)}}, metav1.CreateOptions{})
		},
		func(ctx context.Context) (*corev1.ConfigMap, error) {
			return cms.Get(ctx, podrun.CAConfigMap, metav1.GetOptions{})
		})
	require.NoError(t, err)
	for _, sa := range serviceAccounts {
		_, err = kubeclient.Create(ctx,
			func(ctx context.Context) (*corev1.ServiceAccount, error) {
				return sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
			},
			func(ctx context.Context) (*corev1.ServiceAccount, error) {
				return sas.Get(ctx, sa, metav1.GetOptions{})
			})
		require.NoError(t, err)
	}
}

// AppNamespace makes ns afresh in c for workloads as they are, and deletes
// it when t ends: it is labelled for the lab CA webhook
// (idlab.dev/lab-ca=enabled, components/labca), which gives every container
// the lab CA through the variables SDKs and tools read, so a user's
// Deployment needs no change to trust the lab. Namespace is for the kit's
// own pods (podrun), which mount the CA themselves.
func (l *Lab) AppNamespace(ctx context.Context, t *testing.T, c *Cluster, ns string) {
	t.Helper()
	require.NoError(t, DeleteNamespace(ctx, c.CS, ns))
	nss := c.CS.CoreV1().Namespaces()
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{labca.NamespaceLabel: labca.NamespaceEnabled}}}
	_, err := kubeclient.Create(ctx,
		func(ctx context.Context) (*corev1.Namespace, error) {
			return nss.Create(ctx, obj, metav1.CreateOptions{})
		},
		func(ctx context.Context) (*corev1.Namespace, error) { return nss.Get(ctx, ns, metav1.GetOptions{}) })
	require.NoError(t, err)
	t.Cleanup(func() { _ = DeleteNamespace(context.Background(), c.CS, ns) })
}

// LastDecisionID is the newest decision's Seq, so a step reads only the
// decisions it caused (0 when the log is empty).
func (l *Lab) LastDecisionID(ctx context.Context, t *testing.T) int64 {
	t.Helper()
	ds, err := l.Decisions(ctx, harness.DecisionFilter{})
	require.NoError(t, err)
	if len(ds) == 0 {
		return 0
	}
	return ds[len(ds)-1].Seq
}

// DecisionsSince returns the decisions on action and resource recorded
// after since. Suites run in parallel, so a step filters on its own
// resource rather than taking whatever was logged last; on a resource
// other suites use too, it narrows further with DecisionsOf.
func (l *Lab) DecisionsSince(ctx context.Context, t *testing.T, since int64, action, resource string) []harness.Decision {
	t.Helper()
	return l.DecisionsOf(ctx, t, DecisionQuery{Since: since, Action: action, Resource: resource})
}

// DecisionQuery names the decisions one step caused. Suites run at the same
// time and read the same objects, so a step on a shared resource names
// what only it can have caused: its sessions' principal (a substring, such
// as ":assumed-role/app-a/") and, when the SDK gave one, the request ID
// (probe.Result.RequestID). Since is a Seq from LastDecisionID.
type DecisionQuery = harness.DecisionFilter

// DecisionsOf returns the decisions q names, oldest first.
func (l *Lab) DecisionsOf(ctx context.Context, t *testing.T, q DecisionQuery) []harness.Decision {
	t.Helper()
	ds, err := l.Decisions(ctx, q)
	require.NoError(t, err)
	return ds
}

// DecisionsBy returns the decisions of service (entra, azureblob, gcpiam,
// iam) recorded after since whose principal is exactly principal ("" for
// any) and that keep passes (nil for all), oldest first: the filter
// matches principals by substring, this by equality.
func (l *Lab) DecisionsBy(ctx context.Context, t *testing.T, since int64, service, principal string, keep func(harness.Decision) bool) []harness.Decision {
	t.Helper()
	ds, err := l.Decisions(ctx, harness.DecisionFilter{Since: since, Service: service, Principal: principal})
	require.NoError(t, err)
	out := []harness.Decision{}
	for _, d := range ds {
		if (principal == "" || d.Principal == principal) && (keep == nil || keep(d)) {
			out = append(out, d)
		}
	}
	return out
}

// DeleteNamespace deletes ns and waits until it is gone.
func DeleteNamespace(ctx context.Context, cs kubernetes.Interface, ns string) error {
	err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	// 409: the namespace is already terminating (an earlier run's, or
	// this delete's first try, when kubeclient sent it again); wait below.
	if err != nil && !apierrors.IsConflict(err) {
		return err
	}
	for {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// IRSAWebhookAdmission returns the admission line the lab's pod identity
// webhook (IRSA and EKS Pod Identity, in eks) logged for namespace/pod since
// start, read from the webhook pods' logs through the API; ok is false when
// there is none. A row that says the webhook left a pod alone needs it: the
// webhook fails open (failurePolicy Ignore), so an absent webhook leaves
// every pod alone too.
func (c *Cluster) IRSAWebhookAdmission(ctx context.Context, t *testing.T, namespace, pod string, start time.Time) (a irsawebhook.AdmissionLog, ok bool) {
	t.Helper()
	pods, err := c.CS.CoreV1().Pods(harness.SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + irsawebhook.Name})
	require.NoError(t, err)
	since := metav1.NewTime(start.Add(-time.Second))
	var lines []irsawebhook.AdmissionLog
	for _, p := range pods.Items {
		raw, err := c.CS.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{SinceTime: &since}).DoRaw(ctx)
		require.NoError(t, err, "the log of %s/%s", p.Namespace, p.Name)
		lines = append(lines, irsawebhook.ParseAdmissionLog(raw, namespace, pod)...)
	}
	if len(lines) == 0 {
		return irsawebhook.AdmissionLog{}, false
	}
	return lines[len(lines)-1], true
}

// AdmissionEvidence is what a row's reason quotes of IRSAWebhookAdmission's
// answer.
func AdmissionEvidence(a irsawebhook.AdmissionLog, ok bool) string {
	if !ok {
		return "the webhook logged no admission of this pod"
	}
	return "webhook " + a.String()
}

// Outcome is one row of the conformance matrix (report.Row without the
// fields the report fills in).
type Outcome = report.Row

// Slow is Outcome.Tier for a row that waits minutes (the kubelet's token
// rotation, an expiry): make e2e-quick leaves it out. Every row of a
// top-level test must share its tier.
const Slow = report.TierSlow

// Row logs a matrix row (a line idlab's report reads from go test -json:
// `idlab e2e`, or `go test -json -tags e2e ./... | idlab report` in a
// repository of one's own). Call it once the outcome is observed and before
// asserting on it, so a row that went wrong is in the matrix as "NOT as
// expected" rather than missing. The row's ID is Suite/Mechanism/Scenario,
// slugged; Expected and Observed are "allow" or the exact error code.
func Row(t *testing.T, o Outcome) {
	t.Helper()
	raw, err := json.Marshal(o)
	require.NoError(t, err)
	t.Log(report.RowPrefix + string(raw))
}

// NoCode is what Observed says of a failure that has no error code (a row
// whose allow needs more than the call's success, such as a rotated token):
// never empty, so the matrix shows that something other than allow was
// observed.
const NoCode = "not allow (no error code)"

// Observed is what a probe result shows: "allow", its error code, or NoCode.
func Observed(ok bool, code string) string {
	switch {
	case ok:
		return "allow"
	case code == "":
		return NoCode
	}
	return code
}
