package harness

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Restarts counts container restarts of each cluster's control plane
// (kube-apiserver, etcd, controller manager, scheduler), keyed
// "cluster/component", with the last termination of each container that
// restarted. e2e takes it (SystemHealth.ControlPlane) before and after
// the suites: a restart during them explains failures no scenario is
// about.
type Restarts map[string]ContainerRestarts

// ContainerRestarts is one control-plane container's restart count and
// how it last ended.
type ContainerRestarts struct {
	Count int32
	Last  string
}

// addControlPlane counts p's container restarts into out when p is a
// control-plane static pod (kube-system, tier=control-plane), keyed
// "cluster/component". SystemHealth reads kube-system once for it and for
// the system pods.
func addControlPlane(p corev1.Pod, cluster string, out Restarts) {
	if p.Namespace != metav1.NamespaceSystem || p.Labels["tier"] != "control-plane" {
		return
	}
	for _, st := range p.Status.ContainerStatuses {
		out[cluster+"/"+p.Labels["component"]] = ContainerRestarts{Count: st.RestartCount, Last: lastTermination(st)}
	}
}

func lastTermination(st corev1.ContainerStatus) string {
	t := st.LastTerminationState.Terminated
	if t == nil {
		return ""
	}
	return fmt.Sprintf("%s, exit %d at %s", t.Reason, t.ExitCode, t.FinishedAt.UTC().Format("15:04:05"))
}

// Since lists the restarts in r that were not yet in before, one line
// each ("eks/kube-apiserver restarted 1 time (last: Error, exit 137 at
// 12:01:02)"), sorted; none: nil.
func (r Restarts) Since(before Restarts) []string {
	var lines []string
	for k, now := range r {
		if n := now.Count - before[k].Count; n > 0 {
			times := "times"
			if n == 1 {
				times = "time"
			}
			lines = append(lines, strings.TrimSpace(fmt.Sprintf("%s restarted %d %s (last: %s)", k, n, times, now.Last)))
		}
	}
	sort.Strings(lines)
	return lines
}
