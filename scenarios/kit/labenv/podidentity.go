package labenv

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/components/irsawebhook"
	"github.com/idlab/idlab/emulators/eksauth"
	"github.com/idlab/idlab/harness"
)

// AddPodIdentityAssociation creates a, an EKS Pod Identity association, at
// the lab's EKS Auth through the admin API, and deletes it when t ends;
// EKS Auth honours it at once. The cluster's pod identity webhook is not
// told: its identities file is changed apart (AddWebhookIdentities), as
// EKS's managed webhook gets its file some time after the EKS API has
// created the association.
func (l *Lab) AddPodIdentityAssociation(ctx context.Context, t *testing.T, a eksauth.Association) eksauth.Association {
	t.Helper()
	added, err := AddPodIdentityAssociation(ctx, l.Admin, a)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := DeletePodIdentityAssociation(context.Background(), l.Admin, added.ID); err != nil {
			t.Errorf("delete association %s: %v", added.ID, err)
		}
	})
	return added
}

// AddPodIdentityAssociation is Lab.AddPodIdentityAssociation through admin,
// without the clean-up: it returns the association EKS Auth made (its ID,
// ARN).
func AddPodIdentityAssociation(ctx context.Context, admin AdminFunc, a eksauth.Association) (eksauth.Association, error) {
	var added eksauth.Association
	if err := admin(ctx, http.MethodPost, eksauth.AdminPrefix+"associations", a, &added); err != nil {
		return eksauth.Association{}, fmt.Errorf("add pod identity association %s/%s: %w", a.Namespace, a.ServiceAccount, err)
	}
	return added, nil
}

// DeletePodIdentityAssociation deletes the association with id at EKS Auth.
func DeletePodIdentityAssociation(ctx context.Context, admin AdminFunc, id string) error {
	if err := admin(ctx, http.MethodDelete, eksauth.AdminPrefix+"associations/"+id, nil, nil); err != nil {
		return fmt.Errorf("delete pod identity association %s: %w", id, err)
	}
	return nil
}

// AddWebhookIdentities lists ids in the identities file of c's pod
// identity webhook (harness.UpdatePodIdentityConfig), takes them out again
// when t ends, and returns the content written: the webhook logs its
// irsawebhook.ConfigDigest when it loads it, once the kubelet has synced
// the ConfigMap into the webhook's volume (WaitIRSAWebhookLoad).
func (c *Cluster) AddWebhookIdentities(ctx context.Context, t *testing.T, ids ...harness.WebhookIdentity) []byte {
	t.Helper()
	raw, err := harness.UpdatePodIdentityConfig(ctx, c.CS, ids, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := harness.UpdatePodIdentityConfig(context.Background(), c.CS, nil, ids); err != nil {
			t.Errorf("remove webhook identities %v: %v", ids, err)
		}
	})
	return raw
}

// IRSAWebhookLogs returns the log of each of the pod identity webhook's
// pods since start (a second before: the API's times are whole seconds),
// by pod name. irsawebhook.ParseLog reads them.
func (c *Cluster) IRSAWebhookLogs(ctx context.Context, t *testing.T, start time.Time) map[string][]byte {
	t.Helper()
	pods, err := c.CS.CoreV1().Pods(harness.SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + irsawebhook.Name})
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items, "the pod identity webhook's pods")
	since := metav1.NewTime(start.Add(-time.Second))
	out := map[string][]byte{}
	for _, p := range pods.Items {
		raw, err := c.CS.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{SinceTime: &since}).DoRaw(ctx)
		require.NoError(t, err, "the log of %s/%s", p.Namespace, p.Name)
		out[p.Name] = raw
	}
	return out
}

// WaitIRSAWebhookLoad waits up to within for every pod of the webhook to
// log, since start, the load of the identities file whose
// irsawebhook.ConfigDigest is digest, and returns the logs it read then
// and the time of the latest such load.
func (c *Cluster) WaitIRSAWebhookLoad(ctx context.Context, t *testing.T, start time.Time, digest string, within time.Duration) (map[string][]byte, time.Time) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		logs := c.IRSAWebhookLogs(ctx, t, start)
		at, missing := LoadedEverywhere(logs, digest)
		if len(missing) == 0 {
			return logs, at
		}
		if time.Now().After(deadline) {
			require.Failf(t, "the webhook did not load the identities file", "sha256 %s not loaded by %v within %s", digest, missing, within)
		}
		select {
		case <-ctx.Done():
			require.NoError(t, ctx.Err(), "waiting for the webhook to load sha256 %s", digest)
		case <-time.After(2 * time.Second):
		}
	}
}

// LoadedEverywhere reads webhook logs by pod: the pods that have not
// logged loading the identities file with digest, sorted, and the latest
// time one that did logged it (zero when none did).
func LoadedEverywhere(logs map[string][]byte, digest string) (latest time.Time, missing []string) {
	for pod, raw := range logs {
		found := false
		for _, l := range irsawebhook.ParseLog(raw) {
			if l.Load != nil && l.Load.SHA256 == digest {
				found = true
				if l.Time.After(latest) {
					latest = l.Time
				}
			}
		}
		if !found {
			missing = append(missing, pod)
		}
	}
	sort.Strings(missing)
	return latest, missing
}

// AdmissionAndLoad is what the webhook logs show of one pod against one
// identities file: the pod's admission, the load of the file, which came
// first in the log of the webhook pod that admitted it, and when each was
// logged.
type AdmissionAndLoad struct {
	WebhookPod string
	// Admission is the pod's first admission line, logged at AdmittedAt;
	// Admissions counts them (a reinvocation logs another).
	Admission  irsawebhook.AdmissionLog
	AdmittedAt time.Time
	Admissions int
	// LoadedAt is when WebhookPod first logged loading the file.
	LoadedAt time.Time
	// BeforeLoad: every admission of the pod came before the load in its
	// webhook pod's log; AfterLoad: every one came after it.
	BeforeLoad bool
	AfterLoad  bool
}

// String is the evidence a matrix row quotes.
func (e AdmissionAndLoad) String() string {
	when := "after"
	if e.BeforeLoad {
		when = "before"
	}
	return fmt.Sprintf("webhook %s: %s, %s it loaded the identities file listing the association (%s %s)",
		e.WebhookPod, e.Admission, when, e.LoadedAt.Format("15:04:05.000"), signed(e.LoadedAt.Sub(e.AdmittedAt)))
}

// signed renders d as "+1.5s after the admission" style text.
func signed(d time.Duration) string {
	if d >= 0 {
		return d.Round(time.Millisecond).String() + " after the admission"
	}
	return (-d).Round(time.Millisecond).String() + " before the admission"
}

// OrderOf finds namespace/pod's admissions in webhook logs by pod and, in
// the log of each webhook pod that admitted it, the load of the
// identities file with digest, and orders each admission against that load
// by their places in the log (not by their times, which are whole
// milliseconds). The evidence names the first admission by time (a
// reinvocation may reach another webhook pod). It is an error when no
// webhook pod logged the admission, or one that did never logged that
// load.
func OrderOf(logs map[string][]byte, namespace, pod, digest string) (AdmissionAndLoad, error) {
	var e AdmissionAndLoad
	before, after := 0, 0
	for _, wp := range slices.Sorted(maps.Keys(logs)) {
		lines := irsawebhook.ParseLog(logs[wp])
		load := slices.IndexFunc(lines, func(l irsawebhook.LogLine) bool { return l.Load != nil && l.Load.SHA256 == digest })
		for i, l := range lines {
			a := l.Admission
			if a == nil || a.Namespace != namespace || a.Pod != pod {
				continue
			}
			if load < 0 {
				return AdmissionAndLoad{}, fmt.Errorf("webhook %s admitted %s/%s but never logged loading sha256 %s", wp, namespace, pod, digest)
			}
			if e.Admissions == 0 || l.Time.Before(e.AdmittedAt) {
				e.WebhookPod, e.Admission, e.AdmittedAt, e.LoadedAt = wp, *a, l.Time, lines[load].Time
			}
			e.Admissions++
			if i < load {
				before++
			} else {
				after++
			}
		}
	}
	if e.Admissions == 0 {
		return AdmissionAndLoad{}, fmt.Errorf("no webhook pod logged the admission of %s/%s", namespace, pod)
	}
	e.BeforeLoad, e.AfterLoad = after == 0, before == 0
	return e, nil
}
