package harness

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/idlab/idlab/harness/kubeclient"
)

// Restarts counts container restarts of each cluster's control plane
// (kube-apiserver, etcd, controller manager, scheduler), keyed
// "cluster/component", with the last termination of each container that
// restarted. e2e takes it before and after the suites: a restart during
// them explains failures no scenario is about.
type Restarts map[string]ContainerRestarts

// ContainerRestarts is one control-plane container's restart count and
// how it last ended.
type ContainerRestarts struct {
	Count int32
	Last  string
}

// ControlPlaneRestarts reads the control-plane restart counts of every
// cluster of the lab.
func (l *Lab) ControlPlaneRestarts(ctx context.Context) (Restarts, error) {
	out := Restarts{}
	var errs []error
	for _, c := range l.cfg.Clusters {
		cs, err := kubeclient.ForKubeconfig(l.kubeconfigFile(c.Name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := controlPlaneRestarts(ctx, cs, c.Name, out); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		}
	}
	return out, errors.Join(errs...)
}

func controlPlaneRestarts(ctx context.Context, cs kubernetes.Interface, cluster string, out Restarts) error {
	pods, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "tier=control-plane"})
	if err != nil {
		return fmt.Errorf("control-plane pods: %w", err)
	}
	for _, p := range pods.Items {
		for _, st := range p.Status.ContainerStatuses {
			r := ContainerRestarts{Count: st.RestartCount, Last: lastTermination(st)}
			out[cluster+"/"+p.Labels["component"]] = r
		}
	}
	return nil
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
