// Package gkenotready is the suite of the GKE metadata server not being
// ready (googleapis/google-cloud-go#14349): it stops the lab's metadata
// server in gke, which every pod there that needs Google credentials
// shares, so harness/suites runs it alone (DefaultSerial), after the
// suites that use gke (gke's own, thirdparty's rclone rows).
package gkenotready

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/idlab/idlab/components/gkemetadata"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

// The not-ready rows (TestGKEMetadataServerNotReady) stop the lab's GKE
// metadata server, the DaemonSet harness.ComponentGKEMetadata deploys in
// idlab-system, by a nodeSelector no node matches: the DaemonSet
// controller removes its pods and the DNAT their init container put on the
// node stays (gkemetadata.InstallDNAT only inserts; nothing in the lab
// deletes it), as on a GKE node whose gke-metadata-server is not running
// yet. agentStopKey is that selector's label.
const (
	agentStopKey   = "idlab.dev/gke-metadata-server"
	agentStopValue = "stopped"
	// notReadyWaitSeconds is how long the probe waits for the metadata
	// server to answer after its first attempt failed.
	notReadyWaitSeconds = 240
)

// agentStopPatch is the JSON merge patch that stops the agent: it adds
// agentStopKey to the pod template's nodeSelector.
func agentStopPatch() []byte {
	return []byte(fmt.Sprintf(`{"spec":{"template":{"spec":{"nodeSelector":{%q:%q}}}}}`, agentStopKey, agentStopValue))
}

// agentStartPatch is the JSON merge patch that undoes agentStopPatch,
// leaving any other nodeSelector entry alone.
func agentStartPatch() []byte {
	return []byte(fmt.Sprintf(`{"spec":{"template":{"spec":{"nodeSelector":{%q:null}}}}}`, agentStopKey))
}

// agentStopped reports whether ds's pods select agentStopKey.
func agentStopped(ds *appsv1.DaemonSet) bool {
	_, ok := ds.Spec.Template.Spec.NodeSelector[agentStopKey]
	return ok
}

// agentServing says why ds does not yet run its current template ready on
// every node it should (nil when it does): the DaemonSet controller has
// seen the latest spec, schedules at least one pod, and every scheduled
// pod is updated and ready (its readiness probe, GET / with
// Metadata-Flavor: Google, answered).
func agentServing(ds *appsv1.DaemonSet) error {
	s := ds.Status
	switch {
	case agentStopped(ds):
		return fmt.Errorf("its pods select %s", agentStopKey)
	case s.ObservedGeneration < ds.Generation:
		return fmt.Errorf("generation %d not observed yet (%d)", ds.Generation, s.ObservedGeneration)
	case s.DesiredNumberScheduled == 0:
		return fmt.Errorf("no node to run on")
	case s.UpdatedNumberScheduled != s.DesiredNumberScheduled || s.NumberReady != s.DesiredNumberScheduled:
		return fmt.Errorf("%d of %d pods updated, %d ready", s.UpdatedNumberScheduled, s.DesiredNumberScheduled, s.NumberReady)
	}
	return nil
}

// agentPodsSelector selects the agent's pods (nodeagent's pod label), and
// agentContainer is their server's container (gkemetadata.Manifests).
const (
	agentPodsSelector = "app=" + gkemetadata.Name
	agentContainer    = "metadata-server"
)

// storageReadOnly is the scope the probe's gcp-adc-retry asks its token
// for (cloud.google.com/go/storage ScopeReadOnly).
// The gke suite's names, which the lab's Google fixture binds
// (fixtures/gcp/lab.yaml: idlab-gke/app-a to team-a-reader, app-b to
// team-b-reader).
const (
	ns      = "idlab-gke"
	readerA = "team-a-reader@idlab.iam.gserviceaccount.com"
	readerB = "team-b-reader@idlab.iam.gserviceaccount.com"
	gsaAnno = gkemetadata.AnnotationGSA
)

const storageReadOnly = "https://www.googleapis.com/auth/devstorage.read_only"

// retryPod is the application of the rows: `probe gcp-adc-retry BUCKET
// OBJECT` as ksa, restarted by the kubelet when it gives up
// (restartPolicy OnFailure, as a Job's pod may be); with metadataHost it
// also sets GCE_METADATA_HOST to the metadata address, which makes
// compute/metadata's OnGCE true without probing.
func retryPod(name, ksa, image, bucket, object string, metadataHost bool) *corev1.Pod {
	p := podrun.WithArgs(podrun.PlainPod(name, ksa, image), "gcp-adc-retry", bucket, object, strconv.Itoa(notReadyWaitSeconds))
	p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	c := &p.Spec.Containers[0]
	c.TerminationMessagePath, c.TerminationMessagePolicy = corev1.TerminationMessagePathDefault, corev1.TerminationMessageReadFile
	if metadataHost {
		podrun.WithEnv(p, "GCE_METADATA_HOST", gkemetadata.MetadataIP)
	}
	// Each run appends to a file that outlives the container, so the last
	// run's termination message holds them all: a finished pod's status
	// may not keep the earlier run (lastState), as the first lab run saw.
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "runs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "runs", MountPath: runsDir})
	podrun.WithEnv(p, probe.RunHistoryEnv, runsDir+"/history")
	return p
}

// runsDir is where retryPod's runs keep their history.
const runsDir = "/var/run/idlab-runs"

// containerRun is one run of the probe container: how it exited and what
// it wrote to its termination message.
type containerRun struct {
	ExitCode int32
	probe.ADCRun
}

// containerRuns reads the runs of pod p's probe container, oldest first,
// from its last run's termination message, which holds every run (the run
// history, see retryPod); it must count one run per start. The earlier
// runs' exit codes are their own word; the last run's is the kubelet's.
// The earlier run's own lastState is not used: on the lab a finished pod's
// status had dropped it (restarts 1, lastState empty).
func containerRuns(p *corev1.Pod) ([]containerRun, error) {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name != "probe" {
			continue
		}
		if s.State.Terminated == nil {
			return nil, fmt.Errorf("pod %s: the probe has not ended (restarts %d)", p.Name, s.RestartCount)
		}
		cur := s.State.Terminated
		all, err := probe.ParseADCRuns(cur.Message)
		if err != nil {
			return nil, fmt.Errorf("pod %s run exiting %d: %w", p.Name, cur.ExitCode, err)
		}
		if len(all) != int(s.RestartCount)+1 {
			return nil, fmt.Errorf("pod %s: restarted %d times, but its last run's message holds %d runs", p.Name, s.RestartCount, len(all))
		}
		var runs []containerRun
		for i, r := range all {
			exit := int32(r.Exit)
			if i == len(all)-1 {
				exit = cur.ExitCode // the kubelet's word for the last run
			}
			runs = append(runs, containerRun{ExitCode: exit, ADCRun: r})
		}
		return runs, nil
	}
	return nil, fmt.Errorf("pod %s has no probe container status", p.Name)
}

// attemptOf is attempt i of run r, or an error naming what the runs hold.
func attemptOf(runs []containerRun, r, i int) (probe.ADCAttempt, error) {
	if r >= len(runs) || i >= len(runs[r].Attempts) {
		b, _ := json.Marshal(runs)
		return probe.ADCAttempt{}, fmt.Errorf("no attempt %d in run %d: the runs are %s", i+1, r+1, b)
	}
	return runs[r].Attempts[i], nil
}

// tokensIssued reads the agent's log (slog's text lines, components/
// gkemetadata's decision log) and returns the principal of each "token
// issued" allow for a caller at podIP, in order.
func tokensIssued(log []byte, podIP string) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := logFields(sc.Text())
		if f["msg"] == "token issued" && f["decision"] == "allow" && f["remote_ip"] == podIP {
			out = append(out, f["principal"])
		}
	}
	return out
}

// logFields splits one slog text line into its key=value fields: a value
// is Go-quoted when it holds a space, a quote or an equals sign, else it
// runs to the next space. A line that does not parse so far yields the
// fields before the fault.
func logFields(line string) map[string]string {
	f := map[string]string{}
	for rest := strings.TrimLeft(line, " "); rest != ""; rest = strings.TrimLeft(rest, " ") {
		k, v, ok := strings.Cut(rest, "=")
		if !ok || k == "" || strings.ContainsAny(k, ` "`) {
			return f
		}
		if strings.HasPrefix(v, `"`) {
			q, err := strconv.QuotedPrefix(v)
			if err != nil {
				return f
			}
			u, err := strconv.Unquote(q)
			if err != nil {
				return f
			}
			f[k], rest = u, v[len(q):]
			continue
		}
		val, after, _ := strings.Cut(v, " ")
		f[k], rest = val, after
	}
	return f
}

// describePod says where a pod is: its phase and its probe container's
// state, restarts and last exit.
func describePod(p *corev1.Pod) string {
	var b strings.Builder
	b.WriteString(string(p.Status.Phase))
	for _, s := range p.Status.ContainerStatuses {
		if s.Name != "probe" {
			continue
		}
		switch {
		case s.State.Waiting != nil:
			fmt.Fprintf(&b, ", probe waiting: %s %s", s.State.Waiting.Reason, s.State.Waiting.Message)
		case s.State.Running != nil:
			b.WriteString(", probe running")
		case s.State.Terminated != nil:
			fmt.Fprintf(&b, ", probe exited %d", s.State.Terminated.ExitCode)
		}
		fmt.Fprintf(&b, ", %d restarts", s.RestartCount)
		if l := s.LastTerminationState.Terminated; l != nil {
			fmt.Fprintf(&b, ", last exit %d", l.ExitCode)
		}
	}
	return b.String()
}
