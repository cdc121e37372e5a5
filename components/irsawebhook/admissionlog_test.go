package irsawebhook

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAdmissionLogLine: every request Mutate answers gets exactly one
// admission line, which ParseAdmissionLog reads back with the pod, the
// request's UID, whether it was mutated and why.
func TestAdmissionLogLine(t *testing.T) {
	plain := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "plain"}}
	skipping := appPod("apps", "app")
	skipping.Annotations = map[string]string{AnnotationSkipContainers: "app"}
	generated := appPod("apps", "plain")
	generated.Name, generated.GenerateName = "", "job-"
	foreign := appPod("apps", "app")
	foreign.Spec.Volumes = []corev1.Volume{{Name: VolumeName, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	// done is a pod the webhook has mutated already (a reinvocation).
	done := appPod("apps", "app")
	done.Spec.Volumes = foreign.Spec.Volumes
	done.Spec.Containers[0].Env = []corev1.EnvVar{{Name: EnvRoleARN, Value: "r"}, {Name: EnvRegion, Value: "us-west-2"}}
	done.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: VolumeName, MountPath: MountPath}}
	configMap := podRequest(t, "u-cm", "apps", appPod("apps", "app"))
	configMap.Kind = metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	noObject := podRequest(t, "u-none", "apps", appPod("apps", "app"))
	noObject.Object.Raw = nil
	badObject := podRequest(t, "u-bad", "apps", appPod("apps", "app"))
	badObject.Object.Raw = []byte(`{"spec":{"containers":"nope"}}`)

	tests := []struct {
		name       string
		req        *admissionv1.AdmissionRequest
		pod        string // the line's pod
		uid        string
		mutated    bool
		wantReason string
	}{
		{name: "mutated", req: podRequest(t, "u-1", "apps", appPod("apps", "app")), pod: "p", uid: "u-1", mutated: true, wantReason: "sts_web_identity"},
		{name: "service account without role", req: podRequest(t, "u-2", "apps", appPod("apps", "plain")), pod: "p", uid: "u-2",
			wantReason: "service account has no pod identity association and no role-arn annotation, or does not exist"},
		{name: "service account missing", req: podRequest(t, "u-3", "apps", appPod("apps", "ghost")), pod: "p", uid: "u-3",
			wantReason: "or does not exist"},
		{name: "every container skipped", req: podRequest(t, "u-4", "apps", skipping), pod: "p", uid: "u-4", mutated: true,
			wantReason: "sts_web_identity; skip-containers left alone: app"},
		{name: "generateName", req: podRequest(t, "u-5", "apps", generated), pod: "job-", uid: "u-5", wantReason: "no role-arn annotation"},
		{name: "foreign token volume", req: podRequest(t, "u-6", "apps", foreign), pod: "p", uid: "u-6", mutated: true, wantReason: "sts_web_identity"},
		{name: "nothing left to add", req: podRequest(t, "u-7", "apps", done), pod: "p", uid: "u-7",
			wantReason: "sts_web_identity; required volume mounts and env variables were already present"},
		{name: "not a pod", req: configMap, pod: "p", uid: "u-cm", wantReason: "not a pod"},
		{name: "no object", req: noObject, pod: "p", uid: "u-none", wantReason: "decode pod: unexpected end of JSON input"},
		{name: "object is not a pod", req: badObject, pod: "p", uid: "u-bad", wantReason: "decode pod"},
		{name: "no request", pod: "", wantReason: "bad content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			h, _ := newTestHandler(t, Options{Region: "us-west-2", Logger: newTestLogger(&logs)}, roleSA("apps", "app"), plain)
			h.Mutate(t.Context(), tc.req)
			ns := "apps"
			if tc.req == nil {
				ns = ""
			}
			lines := ParseAdmissionLog([]byte(logs.String()), ns, tc.pod)
			require.Len(t, lines, 1, "one admission line per request:\n%s", logs.String())
			got := lines[0]
			require.Equal(t, tc.uid, got.RequestID)
			require.Equal(t, tc.mutated, got.Mutated)
			require.Contains(t, got.Reason, tc.wantReason)
		})
	}
}

func TestParseAdmissionLog(t *testing.T) {
	log := `time=x level=INFO msg=admission namespace=apps pod=p
{"msg":"irsa webhook serving","addr":":8443"}
{"msg":"admission","namespace":"apps","pod":"p","request_id":"u-1","mutated":false,"reason":"why"}
{"msg":"admission","namespace":"apps","pod":"q","request_id":"u-2","mutated":true,"reason":"irsa"}
{"msg":"admission","namespace":"other","pod":"p","request_id":"u-3","mutated":true,"reason":"irsa"}
{"msg":"decode pod","namespace":"apps","pod":"p"}
{"msg":"admission","namespace":"apps","pod":"p","request_id":"u-4","mutated":true,"reason":"reinvoked"}
{"msg":"admission","namespace":"apps","pod":"p","mutated":"yes"}
`
	require.Equal(t, []AdmissionLog{
		{Msg: "admission", Namespace: "apps", Pod: "p", RequestID: "u-1", Reason: "why"},
		{Msg: "admission", Namespace: "apps", Pod: "p", RequestID: "u-4", Mutated: true, Reason: "reinvoked"},
	}, ParseAdmissionLog([]byte(log), "apps", "p"))
	require.Empty(t, ParseAdmissionLog([]byte(log), "apps", "none"))
	require.Equal(t, "admission u-1 of apps/p: not mutated: why", ParseAdmissionLog([]byte(log), "apps", "p")[0].String())
	require.Equal(t, "admission u-4 of apps/p: mutated: reinvoked", ParseAdmissionLog([]byte(log), "apps", "p")[1].String())
	require.Empty(t, ParseAdmissionLog(nil, "", ""))
}

// FuzzParseAdmissionLog: any log is read without panicking, and only lines
// about the pod asked for come back.
func FuzzParseAdmissionLog(f *testing.F) {
	f.Add([]byte(`{"msg":"admission","namespace":"apps","pod":"p","request_id":"u","mutated":true}`+"\nnot json\n"), "apps", "p")
	f.Add([]byte(`{"msg":"admission","namespace":"","pod":""}`), "", "")
	f.Fuzz(func(t *testing.T, log []byte, namespace, pod string) {
		for _, a := range ParseAdmissionLog(log, namespace, pod) {
			require.Equal(t, AdmissionMessage, a.Msg)
			require.Equal(t, namespace, a.Namespace)
			require.Equal(t, pod, a.Pod)
		}
	})
}

// TestParseLog reads admissions and loads in the order written, with their
// times, skipping everything else.
func TestParseLog(t *testing.T) {
	log := `{"time":"2026-12-07T02:00:00.5Z","level":"INFO","msg":"loaded container credentials config","file":"/c.json","identities":2,"sha256":"ab"}
{"time":"2026-12-07T02:00:01Z","level":"INFO","msg":"admission","namespace":"apps","pod":"p","request_id":"u-1","mutated":false,"reason":"why"}
time=x msg=admission
{"msg":"loaded container credentials config","identities":"two"}
{"time":"not a time","msg":"admission","namespace":"apps","pod":"q"}
{"msg":"reload container credentials config","err":"bad"}
{"time":"2026-12-07T02:00:02Z","msg":"loaded container credentials config","file":"/c.json","identities":3,"sha256":"cd"}
{"msg":"admission","namespace":"apps","pod":"p","request_id":"u-2","mutated":true,"reason":"container_credentials"}
`
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return tm
	}
	require.Equal(t, []LogLine{
		{Time: at("2026-12-07T02:00:00.5Z"), Load: &ConfigLoad{File: "/c.json", Identities: 2, SHA256: "ab"}},
		{Time: at("2026-12-07T02:00:01Z"), Admission: &AdmissionLog{Msg: "admission", Namespace: "apps", Pod: "p", RequestID: "u-1", Reason: "why"}},
		{Time: at("2026-12-07T02:00:02Z"), Load: &ConfigLoad{File: "/c.json", Identities: 3, SHA256: "cd"}},
		{Admission: &AdmissionLog{Msg: "admission", Namespace: "apps", Pod: "p", RequestID: "u-2", Mutated: true, Reason: "container_credentials"}},
	}, ParseLog([]byte(log)))
	require.Empty(t, ParseLog(nil))
}

// TestHandlerLogOrdersLoadsAndAdmissions: a Handler's own log, read back,
// shows a pod admitted before the file listed its service account, the
// load of the new file with its digest, and the same pod admitted after it.
func TestHandlerLogOrdersLoadsAndAdmissions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.json")
	var logs logBuffer
	h, _ := newTestHandler(t, Options{Logger: newTestLogger(&logs), ContainerCredentials: ContainerCredentialsOptions{ConfigFile: file}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "apps"}})
	pod := appPod("apps", "app")
	h.Mutate(t.Context(), podRequest(t, "before", "apps", pod))
	content := []byte(`{"identities":[{"namespace":"apps","serviceAccount":"app"}]}`)
	require.NoError(t, os.WriteFile(file, content, 0o600))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), ConfigDigest(content)) }, 10*time.Second, 5*time.Millisecond)
	h.Mutate(t.Context(), podRequest(t, "after", "apps", pod))

	var got []string
	for _, l := range ParseLog([]byte(logs.String())) {
		switch {
		case l.Load != nil:
			got = append(got, fmt.Sprintf("load %d %s", l.Load.Identities, l.Load.SHA256))
		case l.Admission != nil:
			got = append(got, fmt.Sprintf("admission %s %v %s", l.Admission.RequestID, l.Admission.Mutated, l.Admission.Reason))
		}
		require.False(t, l.Time.IsZero(), "slog stamps every line")
	}
	require.Equal(t, []string{
		"load 0 " + ConfigDigest(nil),
		"admission before false service account has no pod identity association and no role-arn annotation, or does not exist",
		"load 1 " + ConfigDigest(content),
		"admission after true container_credentials",
	}, got)
}

// FuzzParseLog: any log is read without panicking; every line returned is
// exactly one of an admission or a load.
func FuzzParseLog(f *testing.F) {
	f.Add([]byte(`{"time":"2026-12-07T02:00:00Z","msg":"loaded container credentials config","identities":1,"sha256":"ab"}` + "\n" +
		`{"msg":"admission","namespace":"apps","pod":"p","mutated":true}` + "\nnot json\n"))
	f.Add([]byte(`{"msg":"loaded container credentials config","identities":-1}`))
	f.Fuzz(func(t *testing.T, log []byte) {
		for _, l := range ParseLog(log) {
			require.True(t, (l.Admission == nil) != (l.Load == nil), "%+v", l)
			if l.Admission != nil {
				require.Equal(t, AdmissionMessage, l.Admission.Msg)
			}
		}
	})
}
