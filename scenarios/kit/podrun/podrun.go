// Package podrun runs the SDK probe in scenario pods: pod specs as the
// pod-identity webhooks would mutate them, and a runner that waits for the
// pod and parses its result. The pods name their image, so the same specs
// run the Python probe (scenarios/kit/pyprobe) in the pyclient image. For a
// user's own workload, DeploymentPod finds the pod of their Deployment and
// WaitLog waits for its log to show the outcome a step waits for.
package podrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/kubeclient"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

// CAConfigMap holds the lab CA in every scenario namespace.
const CAConfigMap = "idlab-ca"

// PlainPod runs the probe as an application would be deployed, before any
// pod-identity webhook touches it: it trusts the lab CA and has no AWS
// credential settings. IMDS is off so a pod without credentials fails fast.
func PlainPod(name, serviceAccount, image string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/part-of": "idlab-scenarios"}},
		Spec: corev1.PodSpec{
			ServiceAccountName: serviceAccount,
			RestartPolicy:      corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: "probe", Image: image, ImagePullPolicy: corev1.PullNever,
				Env: []corev1.EnvVar{
					{Name: "AWS_CA_BUNDLE", Value: "/etc/idlab/ca.pem"},
					{Name: "SSL_CERT_FILE", Value: "/etc/idlab/ca.pem"},
					{Name: "AWS_EC2_METADATA_DISABLED", Value: "true"},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "idlab-ca", MountPath: "/etc/idlab", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{
				{Name: "idlab-ca", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: CAConfigMap}}}},
			},
		},
	}
}

// IRSAPod is a pod as the EKS pod identity webhook would mutate it: a
// projected token with audience sts.amazonaws.com at the IRSA path, and the
// AWS SDK environment, trusting the lab CA. Scenarios of the webhook itself
// use PlainPod and let the real webhook do this.
func IRSAPod(name, serviceAccount, image, roleARN, region string) *corev1.Pod {
	p := PlainPod(name, serviceAccount, image)
	c := &p.Spec.Containers[0]
	c.Env = append(c.Env,
		corev1.EnvVar{Name: "AWS_ROLE_ARN", Value: roleARN},
		corev1.EnvVar{Name: "AWS_WEB_IDENTITY_TOKEN_FILE", Value: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"},
		corev1.EnvVar{Name: "AWS_REGION", Value: region},
		corev1.EnvVar{Name: "AWS_DEFAULT_REGION", Value: region},
		corev1.EnvVar{Name: "AWS_STS_REGIONAL_ENDPOINTS", Value: "regional"},
	)
	return withToken(p, "aws-iam-token", "/var/run/secrets/eks.amazonaws.com/serviceaccount", "sts.amazonaws.com", "token")
}

// withToken puts a one-hour projected service-account token for audience
// at dir/file in the pod's probe container, first among its volumes and
// mounts as the webhooks put it.
func withToken(p *corev1.Pod, volume, dir, audience, file string) *corev1.Pod {
	exp := int64(3600)
	c := &p.Spec.Containers[0]
	c.VolumeMounts = append([]corev1.VolumeMount{{Name: volume, MountPath: dir, ReadOnly: true}}, c.VolumeMounts...)
	p.Spec.Volumes = append([]corev1.Volume{{Name: volume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{
		ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: audience, ExpirationSeconds: &exp, Path: file},
	}}}}}}, p.Spec.Volumes...)
	return p
}

// PodIdentityPod is a pod as the pod identity webhook's container-credentials
// mode would mutate it for an associated service account: a projected token
// with audience pods.eks.amazonaws.com and the SDK pointed at the EKS Pod
// Identity Agent. Scenarios use it to send a service account the webhook
// leaves alone (no association) to the agent all the same; PlainPod lets
// the real webhook decide.
func PodIdentityPod(name, serviceAccount, image, region string) *corev1.Pod {
	const dir = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"
	p := PlainPod(name, serviceAccount, image)
	c := &p.Spec.Containers[0]
	c.Env = append(c.Env,
		corev1.EnvVar{Name: "AWS_REGION", Value: region},
		corev1.EnvVar{Name: "AWS_DEFAULT_REGION", Value: region},
		corev1.EnvVar{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: "http://169.254.170.23/v1/credentials"},
		corev1.EnvVar{Name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", Value: dir + "/eks-pod-identity-token"},
	)
	return withToken(p, "eks-pod-identity-token", dir, "pods.eks.amazonaws.com", "eks-pod-identity-token")
}

// Run creates the pod, waits for it to finish and parses the probe's output.
func Run(ctx context.Context, cs kubernetes.Interface, ns string, pod *corev1.Pod) (probe.Result, error) {
	if err := wait(ctx, cs, ns, pod, 3*time.Minute); err != nil {
		return probe.Result{}, err
	}
	return Result(ctx, cs, ns, pod.Name, "probe")
}

// RunWithin is Run for a probe that runs long (the rotation modes): it waits
// up to within for the probe to finish and also returns its whole log.
func RunWithin(ctx context.Context, cs kubernetes.Interface, ns string, pod *corev1.Pod, within time.Duration) (probe.Result, string, error) {
	if err := wait(ctx, cs, ns, pod, within); err != nil {
		return probe.Result{}, "", err
	}
	raw, err := cs.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{Container: "probe"}).DoRaw(ctx)
	if err != nil {
		return probe.Result{}, "", fmt.Errorf("logs of %s/%s: %w", ns, pod.Name, err)
	}
	res, err := probe.Parse(string(raw))
	return res, string(raw), err
}

// RunLog creates the pod, waits up to within for its "probe" container to
// finish and returns that container's whole log, unparsed: for pods that
// run something other than the probe (toolrun's third-party tools).
func RunLog(ctx context.Context, cs kubernetes.Interface, ns string, pod *corev1.Pod, within time.Duration) (string, error) {
	if err := wait(ctx, cs, ns, pod, within); err != nil {
		return "", err
	}
	raw, err := cs.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{Container: "probe"}).DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("logs of %s/%s: %w", ns, pod.Name, err)
	}
	return string(raw), nil
}

// wait creates the pod and waits up to within for its probe to finish.
func wait(ctx context.Context, cs kubernetes.Interface, ns string, pod *corev1.Pod, within time.Duration) error {
	pods := cs.CoreV1().Pods(ns)
	if err := create(ctx, pods, pod, webhookWait); err != nil {
		return fmt.Errorf("create pod %s/%s: %w", ns, pod.Name, err)
	}
	deadline := time.Now().Add(within)
	for {
		p, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get pod %s/%s: %w", ns, pod.Name, err)
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || probeDone(p) {
			return nil
		}
		if time.Now().After(deadline) {
			// A pod that did not finish in time is deleted at once: left to
			// run, its late calls would land in the next row's decisions.
			lctx, lcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			why := describe(p) + failedInitLogs(lctx, cs, p)
			lcancel()
			zero := int64(0)
			derr := pods.Delete(context.WithoutCancel(ctx), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			return errors.Join(fmt.Errorf("pod %s/%s still %s after %s (deleted): %s", ns, pod.Name, p.Status.Phase, within, why), derr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// webhookWait is how long create waits out one of the lab's own webhooks
// that cannot be called.
const webhookWait = time.Minute

// Retried receives a line for each create that waited out a lab webhook
// (os.Stderr by default: the suite's log), so a run shows it.
var Retried io.Writer = os.Stderr

// create creates pod. When the API server cannot call one of the lab's
// own webhooks (a Service in harness.SystemNamespace whose pod is
// restarting or failed its readiness probe: "connection refused", "no
// endpoints available"), it tries again every 2 s for up to within: the
// row is about the identity the pod gets, not about the lab's webhook
// being up at that second. Any other refusal (a scenario's own webhook,
// a policy) is returned at once.
func create(ctx context.Context, pods typedcorev1.PodInterface, pod *corev1.Pod, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		_, err := kubeclient.Create(ctx,
			func(ctx context.Context) (*corev1.Pod, error) { return pods.Create(ctx, pod, metav1.CreateOptions{}) },
			func(ctx context.Context) (*corev1.Pod, error) { return pods.Get(ctx, pod.Name, metav1.GetOptions{}) },
		)
		if err == nil || !labWebhookUnreachable(err) || time.Now().After(deadline) {
			return err
		}
		fmt.Fprintf(Retried, "podrun: %s: pod %s refused because a lab webhook could not be called; trying again: %v\n",
			time.Now().UTC().Format("15:04:05"), pod.Name, err)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(2 * time.Second):
		}
	}
}

// labWebhookUnreachable is the API server's refusal of a pod because it
// could not reach a webhook whose Service is in the lab's system
// namespace (k8s.io/apiserver ErrCallingWebhook around the dial error).
func labWebhookUnreachable(err error) bool {
	s := err.Error()
	return strings.Contains(s, "failed calling webhook") && strings.Contains(s, "."+harness.SystemNamespace+".svc") &&
		(strings.Contains(s, "connect: connection refused") || strings.Contains(s, "no endpoints available for service"))
}

// Result parses the probe's output in one container of a pod that ran,
// such as an init container beside the probe container Run waited for.
func Result(ctx context.Context, cs kubernetes.Interface, ns, pod, container string) (probe.Result, error) {
	raw, err := cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	if err != nil {
		return probe.Result{}, fmt.Errorf("logs of %s/%s container %s: %w", ns, pod, container, err)
	}
	return probe.Parse(string(raw))
}

// probeDone reports that the probe container has exited, though the pod
// may run on: a webhook may have added a sidecar (gtoken's token refresher).
func probeDone(p *corev1.Pod) bool {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == "probe" && s.State.Terminated != nil {
			return true
		}
	}
	return false
}

// describe is why a pod has not finished, for a timeout's error: its
// node and IP, its conditions, and each init container's and container's
// state with restarts and the last termination (an init container that
// keeps failing holds the pod in PodInitializing, and only its own status
// says why).
func describe(p *corev1.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "node %s, IP %s; ", orNone(p.Spec.NodeName), orNone(p.Status.PodIP))
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&b, "%s=%s(%s) ", c.Type, c.Status, c.Message)
	}
	for _, s := range p.Status.InitContainerStatuses {
		b.WriteString("init ")
		describeContainer(&b, s)
	}
	for _, s := range p.Status.ContainerStatuses {
		describeContainer(&b, s)
	}
	return strings.TrimSpace(b.String())
}

func describeContainer(b *strings.Builder, s corev1.ContainerStatus) {
	switch st := s.State; {
	case st.Waiting != nil:
		fmt.Fprintf(b, "%s waiting: %s %s", s.Name, st.Waiting.Reason, st.Waiting.Message)
	case st.Running != nil:
		fmt.Fprintf(b, "%s running since %s", s.Name, st.Running.StartedAt.UTC().Format("15:04:05"))
	case st.Terminated != nil:
		fmt.Fprintf(b, "%s terminated: %s", s.Name, terminated(st.Terminated))
	default:
		fmt.Fprintf(b, "%s no state", s.Name)
	}
	if s.RestartCount > 0 {
		fmt.Fprintf(b, ", %d restarts", s.RestartCount)
		if t := s.LastTerminationState.Terminated; t != nil {
			fmt.Fprintf(b, ", last %s", terminated(t))
		}
	}
	b.WriteString("; ")
}

func terminated(t *corev1.ContainerStateTerminated) string {
	s := fmt.Sprintf("%s exit %d at %s", t.Reason, t.ExitCode, t.FinishedAt.UTC().Format("15:04:05"))
	if m := strings.TrimSpace(t.Message); m != "" {
		s += " (" + m + ")"
	}
	return s
}

// failedInitLogs is the log tail of each init container of p that has
// failed at least once (its previous run's when it runs again), for a
// timeout's error: a failing init container's reason is only in its log.
func failedInitLogs(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod) string {
	var b strings.Builder
	tail := int64(5)
	for _, s := range p.Status.InitContainerStatuses {
		failedNow := s.State.Terminated != nil && s.State.Terminated.ExitCode != 0
		if s.RestartCount == 0 && !failedNow {
			continue
		}
		opts := &corev1.PodLogOptions{Container: s.Name, TailLines: &tail, Previous: !failedNow}
		raw, err := cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, opts).DoRaw(ctx)
		if err != nil {
			fmt.Fprintf(&b, "; init %s log: %v", s.Name, err)
			continue
		}
		fmt.Fprintf(&b, "; init %s log: %q", s.Name, strings.TrimSpace(string(raw)))
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// WithAudience changes the audience of the pod's projected IRSA token, as a
// mistyped eks.amazonaws.com/audience annotation would.
func WithAudience(p *corev1.Pod, audience string) *corev1.Pod {
	for _, v := range p.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil {
				s.ServiceAccountToken.Audience = audience
			}
		}
	}
	return p
}

// WithArgs makes the probe call something other than GetCallerIdentity
// (see the probe command: s3-get, s3-put, sns-publish).
func WithArgs(p *corev1.Pod, args ...string) *corev1.Pod {
	p.Spec.Containers[0].Args = args
	return p
}

// TokenSecretDir is where WithTokenSecret mounts its Secret.
const TokenSecretDir = "/var/run/idlab/token"

// WithTokenSecret mounts key "token" of the Secret secret at
// TokenSecretDir/token in the probe container and points envVar
// (AWS_WEB_IDENTITY_TOKEN_FILE, AZURE_FEDERATED_TOKEN_FILE) at it: a token
// the scenario made, for one no cluster of the lab would project, read by
// the SDK as it reads a projected one. The kubelet writes a Secret volume
// as it writes a projected one (..data swapped atomically).
func WithTokenSecret(p *corev1.Pod, secret, envVar string) *corev1.Pod {
	const volume = "idlab-token"
	c := &p.Spec.Containers[0]
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: volume, MountPath: TokenSecretDir, ReadOnly: true})
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}})
	return WithEnv(p, envVar, TokenSecretDir+"/token")
}

// WithEnv sets the probe container's variable name to value, replacing it
// where the container has it.
func WithEnv(p *corev1.Pod, name, value string) *corev1.Pod {
	c := &p.Spec.Containers[0]
	for i := range c.Env {
		if c.Env[i].Name == name {
			c.Env[i] = corev1.EnvVar{Name: name, Value: value}
			return p
		}
	}
	c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
	return p
}

// WithoutEnv drops the probe container's variable name.
func WithoutEnv(p *corev1.Pod, name string) *corev1.Pod {
	c := &p.Spec.Containers[0]
	env := c.Env[:0]
	for _, e := range c.Env {
		if e.Name != name {
			env = append(env, e)
		}
	}
	c.Env = env
	return p
}

// Env is the value of the probe container's variable name ("" without it).
func Env(p *corev1.Pod, name string) string {
	for _, e := range p.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// WaitForMutation dry-runs the creation of pod in ns (the API server calls
// the mutating webhooks and stores nothing) until mutated accepts the
// result, every 500 ms for up to within. It is for a row whose setup just
// changed what a webhook reads through an informer cache, such as a
// service account's annotation: upstream's webhooks read that cache, so a
// pod created at once may get the old mutation, which is the cache's lag
// and not the row's subject. mutated returns nil when the pod is as the
// row needs it, else what it lacks, which the timeout's error quotes.
func WaitForMutation(ctx context.Context, cs kubernetes.Interface, ns string, pod *corev1.Pod, within time.Duration, mutated func(*corev1.Pod) error) error {
	deadline := time.Now().Add(within)
	for {
		got, err := cs.CoreV1().Pods(ns).Create(ctx, pod.DeepCopy(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil {
			if err = mutated(got); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pod %s/%s: the webhooks' mutation is not the one wanted after %s: %w", ns, pod.Name, within, err)
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
