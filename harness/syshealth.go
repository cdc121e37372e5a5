package harness

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/idlab/idlab/harness/kubeclient"
)

// SystemHealth is what e2e reads of the lab's own pods (SystemNamespace:
// webhooks, node agents, metadata servers) and of kube-system before and
// after the suites: a component that restarted, was replaced or failed
// its readiness probe while the suites ran explains failures no scenario
// is about (a webhook Service without a ready endpoint refuses every pod
// that asks for it), and CI's tail must say so.
type SystemHealth struct {
	Taken        time.Time
	Pods         map[string]SystemPod // "cluster/namespace/pod"
	Events       []SystemEvent        // Warning events of those namespaces
	ControlPlane Restarts             // the control-plane pods among them
}

// SystemPod is one system pod's restarts (all containers, init ones too),
// the last termination of a container that restarted, and readiness.
type SystemPod struct {
	Restarts int32
	Last     string
	Ready    bool
}

// SystemEvent is one Warning event of a system namespace.
type SystemEvent struct {
	Cluster, Namespace, Object, Reason, Message string
	Count                                       int32
	Last                                        time.Time
}

// systemNamespaces are the namespaces SystemHealth reads.
var systemNamespaces = []string{SystemNamespace, metav1.NamespaceSystem}

// SystemHealth reads every cluster's system pods and Warning events, and
// the control-plane restarts among them.
func (l *Lab) SystemHealth(ctx context.Context) (SystemHealth, error) {
	h := SystemHealth{Taken: time.Now(), Pods: map[string]SystemPod{}, ControlPlane: Restarts{}}
	var errs []error
	for _, c := range l.cfg.Clusters {
		cs, err := kubeclient.ForKubeconfig(l.kubeconfigFile(c.Name))
		if err == nil {
			err = readSystemHealth(ctx, cs, c.Name, &h)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		}
	}
	return h, errors.Join(errs...)
}

func readSystemHealth(ctx context.Context, cs kubernetes.Interface, cluster string, h *SystemHealth) error {
	if h.ControlPlane == nil {
		h.ControlPlane = Restarts{}
	}
	for _, ns := range systemNamespaces {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("pods of %s: %w", ns, err)
		}
		for _, p := range pods.Items {
			sp := SystemPod{Ready: podReady(p)}
			for _, st := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
				sp.Restarts += st.RestartCount
				if last := lastTermination(st); last != "" && st.RestartCount > 0 {
					sp.Last = st.Name + ": " + last
				}
			}
			h.Pods[cluster+"/"+ns+"/"+p.Name] = sp
			addControlPlane(p, cluster, h.ControlPlane)
		}
		events, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "type=" + corev1.EventTypeWarning})
		if err != nil {
			return fmt.Errorf("events of %s: %w", ns, err)
		}
		for _, e := range events.Items {
			if e.Type != corev1.EventTypeWarning { // the field selector, for clients that ignore it
				continue
			}
			last := e.LastTimestamp.Time
			if last.IsZero() {
				last = e.EventTime.Time
			}
			h.Events = append(h.Events, SystemEvent{Cluster: cluster, Namespace: ns,
				Object: strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name,
				Reason: e.Reason, Message: e.Message, Count: e.Count, Last: last})
		}
	}
	return nil
}

func podReady(p corev1.Pod) bool {
	if p.Status.Phase == corev1.PodSucceeded {
		return true
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Since lists, one line each and sorted, what changed after before was
// taken: system pods that restarted, that are gone or new (a replaced
// pod is both), that are not ready now, and the Warning events seen since
// (the newest maxEvents). Nothing changed: nil.
func (h SystemHealth) Since(before SystemHealth) []string {
	const maxEvents = 12
	var lines []string
	for k, now := range h.Pods {
		was, ok := before.Pods[k]
		switch {
		case !ok:
			lines = append(lines, k+" new")
		case now.Restarts > was.Restarts:
			lines = append(lines, strings.TrimSpace(fmt.Sprintf("%s restarted %d more (last %s)", k, now.Restarts-was.Restarts, now.Last)))
		}
		if !now.Ready {
			lines = append(lines, k+" not ready")
		}
	}
	for k := range before.Pods {
		if _, ok := h.Pods[k]; !ok {
			lines = append(lines, k+" gone")
		}
	}
	sort.Strings(lines)
	var events []SystemEvent
	for _, e := range h.Events {
		if e.Last.After(before.Taken) {
			events = append(events, e)
		}
	}
	sort.Slice(events, func(i, j int) bool { return events[i].Last.Before(events[j].Last) })
	if n := len(events) - maxEvents; n > 0 {
		lines = append(lines, fmt.Sprintf("%d earlier Warning events left out", n))
		events = events[n:]
	}
	for _, e := range events {
		msg := strings.Join(strings.Fields(e.Message), " ")
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		lines = append(lines, fmt.Sprintf("%s/%s event at %s: %s %s (x%d): %s",
			e.Cluster, e.Namespace, e.Last.UTC().Format("15:04:05"), e.Reason, e.Object, e.Count, msg))
	}
	return lines
}
