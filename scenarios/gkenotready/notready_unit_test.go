package gkenotready

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/idlab/idlab/components/gkemetadata"
	"github.com/idlab/idlab/harness/suites"
	"github.com/idlab/idlab/scenarios/kit/podrun"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

// agentDaemonSet is the lab's metadata server DaemonSet as
// gkemetadata.Manifests builds it, with nodeSelector as given.
func agentDaemonSet(t *testing.T, nodeSelector map[string]string) *appsv1.DaemonSet {
	t.Helper()
	for _, obj := range gkemetadata.Manifests("idlab:dev", "idlab-system", gkemetadata.ManifestOptions{ProjectID: "idlab"}) {
		if ds, ok := obj.(*appsv1.DaemonSet); ok {
			ds.Spec.Template.Spec.NodeSelector = nodeSelector
			return ds
		}
	}
	require.FailNow(t, "gkemetadata.Manifests has no DaemonSet")
	return nil
}

// patched applies a JSON merge patch to ds as the API server does.
func patched(t *testing.T, ds *appsv1.DaemonSet, patch []byte) *appsv1.DaemonSet {
	t.Helper()
	doc, err := json.Marshal(ds)
	require.NoError(t, err)
	out, err := jsonpatch.MergePatch(doc, patch)
	require.NoError(t, err)
	var got appsv1.DaemonSet
	require.NoError(t, json.Unmarshal(out, &got))
	return &got
}

// TestAgentStopAndStart: the stop patch makes the agent's pods select a
// label no node has and touches nothing else (the init container that
// installed the DNAT is still in the template, not run again); the start
// patch takes out that entry alone, so the DaemonSet is as it was, with
// or without a nodeSelector of its own; starting an agent that runs is a
// no-op.
func TestAgentStopAndStart(t *testing.T) {
	for _, own := range []map[string]string{nil, {"kubernetes.io/os": "linux"}} {
		orig := agentDaemonSet(t, own)
		require.False(t, agentStopped(orig))
		require.Equal(t, agentContainer, orig.Spec.Template.Spec.Containers[0].Name, "the log agentLog reads")
		require.Equal(t, agentPodsSelector, "app="+orig.Spec.Selector.MatchLabels["app"])

		stopped := patched(t, orig, agentStopPatch())
		require.True(t, agentStopped(stopped))
		require.Equal(t, agentStopValue, stopped.Spec.Template.Spec.NodeSelector[agentStopKey])
		require.Len(t, stopped.Spec.Template.Spec.NodeSelector, len(own)+1)
		back := patched(t, stopped, agentStartPatch())
		require.False(t, agentStopped(back))
		require.JSONEq(t, mustJSON(t, orig), mustJSON(t, back), "started, the DaemonSet is the lab's again")
		require.JSONEq(t, mustJSON(t, orig), mustJSON(t, patched(t, orig, agentStartPatch())), "start on a running agent changes nothing")
		require.Equal(t, gkemetadata.InstallDNATArgs, stopped.Spec.Template.Spec.InitContainers[0].Args, "the DNAT's init container stays in the template")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestAgentServing(t *testing.T) {
	ds := func(gen, observed int64, desired, updated, ready int32, stopped bool) *appsv1.DaemonSet {
		d := agentDaemonSet(t, nil)
		if stopped {
			d.Spec.Template.Spec.NodeSelector = map[string]string{agentStopKey: agentStopValue}
		}
		d.Generation = gen
		d.Status = appsv1.DaemonSetStatus{ObservedGeneration: observed, DesiredNumberScheduled: desired, UpdatedNumberScheduled: updated, NumberReady: ready}
		return d
	}
	tests := []struct {
		name string
		ds   *appsv1.DaemonSet
		want string // "" when serving
	}{
		{"serving", ds(3, 3, 1, 1, 1, false), ""},
		{"stopped", ds(3, 3, 0, 0, 0, true), "its pods select " + agentStopKey},
		{"spec not seen", ds(4, 3, 1, 1, 1, false), "generation 4 not observed yet (3)"},
		{"no node", ds(3, 3, 0, 0, 0, false), "no node to run on"},
		{"old pod", ds(3, 3, 1, 0, 1, false), "0 of 1 pods updated, 1 ready"},
		{"not ready", ds(3, 3, 1, 1, 0, false), "1 of 1 pods updated, 0 ready"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := agentServing(tc.ds)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.want)
		})
	}
}

func TestRetryPod(t *testing.T) {
	for _, host := range []bool{false, true} {
		p := retryPod("mds-late", "app-a", "probe:dev", "team-a-data", "hello.txt", host)
		require.Equal(t, corev1.RestartPolicyOnFailure, p.Spec.RestartPolicy, "the kubelet starts it again when it gives up")
		require.Equal(t, "app-a", p.Spec.ServiceAccountName)
		c := p.Spec.Containers[0]
		require.Equal(t, "probe", c.Name, "containerRuns reads the probe container")
		require.Equal(t, []string{"gcp-adc-retry", "team-a-data", "hello.txt", "240"}, c.Args)
		require.Equal(t, "/dev/termination-log", c.TerminationMessagePath, "where the probe writes its run")
		require.Equal(t, corev1.TerminationMessageReadFile, c.TerminationMessagePolicy)
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		require.Equal(t, "/etc/idlab/ca.pem", env["SSL_CERT_FILE"], "it trusts the lab CA as every probe pod")
		v, ok := env["GCE_METADATA_HOST"]
		require.Equal(t, host, ok)
		if host {
			require.Equal(t, "169.254.169.254", v)
		}
		plain := podrun.PlainPod("x", "app-a", "probe:dev").Spec.Volumes
		require.Equal(t, plain, p.Spec.Volumes[:len(plain)])
		require.Len(t, p.Spec.Volumes, len(plain)+1)
		runs := p.Spec.Volumes[len(plain)]
		require.NotNil(t, runs.EmptyDir, "the run history outlives the container")
		require.Equal(t, runsDir+"/history", env[probe.RunHistoryEnv])
		require.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: runs.Name, MountPath: runsDir})
	}
}

func TestContainerRuns(t *testing.T) {
	runJSON := func(code string, n int) string {
		var as []probe.ADCAttempt
		for i := 0; i < n; i++ {
			as = append(as, probe.ADCAttempt{Result: probe.Result{OK: code == "", ErrorCode: code}, Stage: "credentials"})
		}
		exit := 0
		if code != "" {
			exit = 1
		}
		b, err := json.Marshal(probe.ADCRun{Result: as[n-1].Result, Attempts: as, Exit: exit})
		require.NoError(t, err)
		return string(b)
	}
	status := func(restarts int32, last, cur *corev1.ContainerStateTerminated) *corev1.Pod {
		s := corev1.ContainerStatus{Name: "probe", RestartCount: restarts}
		s.LastTerminationState.Terminated = last
		s.State.Terminated = cur
		if cur == nil {
			s.State.Running = &corev1.ContainerStateRunning{}
		}
		p := &corev1.Pod{}
		p.Name = "mds-late"
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "sidecar"}, s}
		return p
	}
	failedRun, workedRun := runJSON("NoDefaultCredentials", 2), runJSON("", 1)
	failed := &corev1.ContainerStateTerminated{ExitCode: 1, Message: failedRun}
	worked := &corev1.ContainerStateTerminated{ExitCode: 0, Message: workedRun}
	history := &corev1.ContainerStateTerminated{ExitCode: 0, Message: failedRun + "\n" + workedRun + "\n"}
	tests := []struct {
		name      string
		pod       *corev1.Pod
		wantExits []int32
		wantErr   string
	}{
		{"restarted once: both runs in the last message", status(1, nil, history), []int32{1, 0}, ""},
		{"restarted once, lastState kept too", status(1, failed, history), []int32{1, 0}, ""},
		{"first run worked", status(0, nil, worked), []int32{0}, ""},
		{"still running", status(1, failed, nil), nil, "has not ended (restarts 1)"},
		{"earlier run missing from the history", status(1, failed, worked), nil, "restarted 1 times, but its last run's message holds 1 runs"},
		{"a run too many", status(0, nil, history), nil, "restarted 0 times, but its last run's message holds 2 runs"},
		{"no message", status(0, nil, &corev1.ContainerStateTerminated{ExitCode: 2}), nil, "run exiting 2: probe printed no result"},
		{"no probe", &corev1.Pod{}, nil, "no probe container status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runs, err := containerRuns(tc.pod)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			var exits []int32
			for _, r := range runs {
				exits = append(exits, r.ExitCode)
			}
			require.Equal(t, tc.wantExits, exits)
			at, err := attemptOf(runs, len(runs)-1, 0)
			require.NoError(t, err)
			require.True(t, at.OK, "the last run worked")
			_, err = attemptOf(runs, len(runs), 0)
			require.ErrorContains(t, err, "no attempt 1 in run")
		})
	}
}

// TestTokensIssued reads lines written as the agent writes them: slog's
// text handler, the metadata server's attributes (components/gkemetadata
// handler.go).
func TestTokensIssued(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, nil))
	log := func(ip string) *slog.Logger {
		return base.With("request_id", "r1", "path", "/computeMetadata/v1/instance/service-accounts/default/token", "remote_ip", ip)
	}
	base.Info("gke metadata server serving", "addr", ":988", "node", "gke-control-plane")
	log("10.244.0.7").Info("token issued", "decision", "allow", "principal", "serviceAccount:idlab-gke/app-a", "gsa", readerA,
		"action", "token", "resource", "default", "reason", "pod on this node")
	log("10.244.0.7").Info("request refused", "decision", "deny", "principal", "serviceAccount:idlab-gke/app-a", "reason", `msg="token issued" decision=allow`)
	log("10.244.0.70").Info("token issued", "decision", "allow", "principal", "serviceAccount:idlab-gke/other", "reason", "pod on this node")
	log("10.244.0.7").Info("token issued", "decision", "allow", "principal", "serviceAccount:idlab-gke/app b", "reason", "pod on this node")
	require.Equal(t, []string{"serviceAccount:idlab-gke/app-a", "serviceAccount:idlab-gke/app b"}, tokensIssued(buf.Bytes(), "10.244.0.7"))
	require.Equal(t, []string{"serviceAccount:idlab-gke/other"}, tokensIssued(buf.Bytes(), "10.244.0.70"))
	require.Empty(t, tokensIssued(buf.Bytes(), "10.244.0.8"))
	require.Empty(t, tokensIssued([]byte(`reason="x msg=\"token issued\" decision=allow remote_ip=10.244.0.7"`), "10.244.0.7"), "inside a quoted value")
}

func FuzzTokensIssued(f *testing.F) {
	f.Add([]byte(`time=2026-12-07T02:00:00Z level=INFO msg="token issued" remote_ip=10.244.0.7 decision=allow principal=serviceAccount:ns/a`), "10.244.0.7")
	f.Add([]byte("msg=\"token issued\x00\" remote_ip= decision=allow\nk=\"\\\""), "")
	f.Fuzz(func(t *testing.T, log []byte, ip string) {
		lines := bytes.Count(log, []byte("\n")) + 1
		require.LessOrEqual(t, len(tokensIssued(log, ip)), lines, "at most one token a line")
		for k := range logFields(string(log)) {
			require.NotEmpty(t, k)
			require.NotContains(t, k, " ")
			require.NotContains(t, k, `"`)
		}
	})
}

func TestDescribePod(t *testing.T) {
	p := &corev1.Pod{}
	p.Status.Phase = corev1.PodRunning
	s := corev1.ContainerStatus{Name: "probe", RestartCount: 1}
	s.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 10s"}
	s.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{s}
	require.Equal(t, "Running, probe waiting: CrashLoopBackOff back-off 10s, 1 restarts, last exit 1", describePod(p))
}

// TestGKEMetadataServerAlone: TestGKEMetadataServerNotReady stops the gke
// metadata server that every gke pod needing Google credentials shares
// (the gke suite's, thirdparty's rclone rows), so this suite must run
// alone: it is one of harness/suites' serial suites, and none of the
// suites a serial one may overlap (DefaultOverlap) or this one may run
// beside (DefaultBeside) names the gke cluster.
// In the first full run with thirdparty, this suite ran beside it in the
// parallel phase and saw thirdparty's Google decisions while the server
// was down.
func TestGKEMetadataServerAlone(t *testing.T) {
	const module = "github.com/idlab/idlab/"
	require.Contains(t, suites.DefaultSerial(), module+"scenarios/gkenotready", "the not-ready rows stop a shared server: run them alone")
	require.NotContains(t, suites.DefaultExclusive(), module+"scenarios/gkenotready")
	root := filepath.Join("..", "..")
	names := regexp.MustCompile(`"gke"`)
	beside := suites.DefaultBeside()[module+"scenarios/gkenotready"]
	require.NotEmpty(t, beside, "kube2iam, the quick tier's last suite, runs beside it")
	for _, p := range append(suites.DefaultOverlap(), beside...) {
		dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(p, module)))
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			require.False(t, names.Match(b), "%s runs beside the serial suites and names the gke cluster: does it use the metadata server this suite stops?", path)
			return nil
		})
		require.NoError(t, err)
	}
}
