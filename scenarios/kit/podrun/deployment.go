package podrun

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// DeploymentPod waits up to within for a running pod of the Deployment
// name in ns and returns it: the pod `kubectl logs deployment/NAME` reads.
// A test of a user's own Deployment runs it as it is and reads its app's
// log (WaitLog), where Run runs the kit's own pods.
func DeploymentPod(ctx context.Context, cs kubernetes.Interface, ns, name string, within time.Duration) (*corev1.Pod, error) {
	deadline := time.Now().Add(within)
	for {
		pod, why, err := runningPod(ctx, cs, ns, name)
		if err != nil {
			return nil, err
		}
		if pod != nil {
			return pod, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("deployment %s/%s has no running pod after %s: %s", ns, name, within, why)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// runningPod is a running pod of the Deployment, or nil and what its pods
// are doing instead.
func runningPod(ctx context.Context, cs kubernetes.Interface, ns, name string) (*corev1.Pod, string, error) {
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("get deployment %s/%s: %w", ns, name, err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, "", fmt.Errorf("deployment %s/%s selector: %w", ns, name, err)
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, "", fmt.Errorf("pods of deployment %s/%s: %w", ns, name, err)
	}
	var why []string
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			return p, "", nil
		}
		why = append(why, fmt.Sprintf("%s %s %s", p.Name, p.Status.Phase, describe(p)))
	}
	if len(why) == 0 {
		return nil, "no pod yet", nil
	}
	return nil, strings.Join(why, "; "), nil
}

// WaitLog reads the log of container in pod every second until done says
// it holds what the caller waits for, for up to within, and returns it.
// A long-running app prints an outcome per call: done looks for the one
// the step waits for (the first refusal; a success after a fix). A log
// the API server cannot give yet (the container is still being created:
// 400) is read again until within ends.
func WaitLog(ctx context.Context, cs kubernetes.Interface, ns, pod, container string, within time.Duration, done func(log string) bool) (string, error) {
	deadline := time.Now().Add(within)
	for {
		raw, err := cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
		switch {
		case err != nil && time.Now().After(deadline):
			return "", fmt.Errorf("logs of %s/%s container %s: %w", ns, pod, container, err)
		case err == nil && done(string(raw)):
			return string(raw), nil
		case err == nil && time.Now().After(deadline):
			return string(raw), fmt.Errorf("the log of %s/%s container %s does not show it after %s; it ends:\n%s", ns, pod, container, within, tail(string(raw), 10))
		}
		select {
		case <-ctx.Done():
			return string(raw), ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
