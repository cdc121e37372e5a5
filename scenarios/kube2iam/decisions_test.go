package kube2iam

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// decision is one line of kube2iam's decision log (components/kube2iam:
// "kube2iam decision", Pod as namespace/name, Role the full ARN).
type decision struct {
	Time     time.Time `json:"time"`
	Msg      string    `json:"msg"`
	Decision string    `json:"decision"`
	RemoteIP string    `json:"remote_ip"`
	Path     string    `json:"path"`
	Pod      string    `json:"pod"`
	Role     string    `json:"role"`
	Status   int       `json:"status"`
	Error    string    `json:"error"`
	Reason   string    `json:"reason"`
}

// sessionOf splits an STS assumed-role ARN
// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION) into its role name and
// session name.
func sessionOf(arn string) (role, session string, ok bool) {
	_, rest, ok := strings.Cut(arn, ":assumed-role/")
	if !ok {
		return "", "", false
	}
	role, session, ok = strings.Cut(rest, "/")
	return role, session, ok && role != "" && session != ""
}

// ipHashOf is the hash of the pod IP that starts the session name kube2iam
// gives an assumed role (HASH-ROLE, components/kube2iam sessionName, as
// upstream's iam.go sessionName): two sessions with the same hash were
// opened for pods at the same IP.
func ipHashOf(arn string) (string, bool) {
	_, session, ok := sessionOf(arn)
	if !ok {
		return "", false
	}
	hash, _, ok := strings.Cut(session, "-")
	if !ok || hash == "" {
		return "", false
	}
	return hash, true
}

// errOldRole is what checkReuse says when kube2iam served or named the
// finished pod: the bug of jtblin/kube2iam#215.
var errOldRole = errors.New("kube2iam decided for the finished pod at its old IP")

// checkReuse judges kube2iam's decisions about the reused IP from since
// (the new pod's start): each is about the new pod and names its role,
// at least one allows it, none refuses it (two active pods of the IP in
// the cache: "2 pods ... indexed") and none names the finished pod or its
// role. A refusal for no pod at all (notFoundYet) is passed over. It
// returns the last Allow.
func checkReuse(ds []decision, since time.Time, newPod, newRole, oldPod, oldRole string) (decision, error) {
	var allow decision
	for _, d := range ds {
		switch {
		case d.Time.Before(since):
			continue
		case d.Pod == oldPod || d.Role == oldRole:
			return decision{}, fmt.Errorf("%w: %s %s for %s (%s)", errOldRole, d.Decision, d.Role, d.Pod, d.Error)
		case notFoundYet(d):
			continue
		case d.Decision != "Allow":
			return decision{}, fmt.Errorf("kube2iam refused the IP (pod %q): %d %s (%s)", d.Pod, d.Status, d.Error, d.Reason)
		case d.Pod != newPod:
			return decision{}, fmt.Errorf("kube2iam allowed %q at the IP, neither pod: %+v", d.Pod, d)
		case d.Role != newRole:
			return decision{}, fmt.Errorf("kube2iam allowed the new pod %s, not its role %s", d.Role, newRole)
		}
		allow = d
	}
	if allow.Decision == "" {
		return decision{}, fmt.Errorf("kube2iam logged no Allow for %s since %s (decisions about the IP: %d)", newPod, since.Format(time.RFC3339Nano), len(ds))
	}
	return allow, nil
}

// notFoundYet is kube2iam's refusal of an IP no active pod has, in cache
// or API server: what a pod asking before the kubelet has reported its IP
// gets (after kube2iam's lookup backoff). It names no pod, so it is not a
// decision about the finished one; the SDK asks again.
func notFoundYet(d decision) bool {
	return d.Decision == "Deny" && d.Pod == "" && d.Status == 404 && strings.HasPrefix(d.Error, "pod with specificed IP ")
}

func TestSessionOf(t *testing.T) {
	tests := []struct {
		arn, role, session, hash string
		ok, hashOK               bool
	}{
		{arn: "arn:aws:sts::123456789012:assumed-role/kube2iam-app/9c4b8f1e-kube2iam-app", role: "kube2iam-app", session: "9c4b8f1e-kube2iam-app", hash: "9c4b8f1e", ok: true, hashOK: true},
		{arn: "arn:aws:sts::123456789012:assumed-role/eks-node/i-0abc", role: "eks-node", session: "i-0abc", hash: "i", ok: true, hashOK: true},
		{arn: "arn:aws:sts::123456789012:assumed-role/r/nodash", role: "r", session: "nodash", ok: true},
		{arn: "arn:aws:iam::123456789012:role/kube2iam-app"},
		{arn: "arn:aws:sts::123456789012:assumed-role/kube2iam-app"},
		{arn: "arn:aws:sts::123456789012:assumed-role//s"},
		{arn: ""},
	}
	for _, tc := range tests {
		role, session, ok := sessionOf(tc.arn)
		require.Equal(t, tc.ok, ok, tc.arn)
		if ok {
			require.Equal(t, tc.role, role, tc.arn)
			require.Equal(t, tc.session, session, tc.arn)
		}
		hash, ok := ipHashOf(tc.arn)
		require.Equal(t, tc.hashOK, ok, tc.arn)
		require.Equal(t, tc.hash, hash, tc.arn)
	}
}

func TestCheckReuse(t *testing.T) {
	// The suite's names (kube2iam_test.go), which need the e2e tag.
	const (
		newPod, oldPod   = "idlab-kube2iam/ipreuse-new-1", "idlab-kube2iam-other/ipreuse-old-1"
		newRole, oldRole = "arn:aws:iam::123456789012:role/kube2iam-app", "arn:aws:iam::123456789012:role/kube2iam-other"
		anotherRole      = "arn:aws:iam::123456789012:role/kube2iam-default"
	)
	since := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return since.Add(time.Duration(s) * time.Second) }
	allowNew := decision{Time: at(1), Decision: "Allow", Pod: newPod, Role: newRole}
	tests := []struct {
		name    string
		ds      []decision
		want    decision
		wantErr string
		isOld   bool
	}{
		{name: "the new pod allowed its role", ds: []decision{allowNew}, want: allowNew},
		{name: "the old pod's decisions before the new pod started do not count",
			ds: []decision{{Time: at(-3), Decision: "Allow", Pod: oldPod, Role: oldRole}, allowNew}, want: allowNew},
		{name: "not found before the kubelet reported the IP, then allowed",
			ds: []decision{{Time: at(1), Decision: "Deny", Status: 404, Error: `pod with specificed IP "10.244.0.7" not found`}, allowNew}, want: allowNew},
		{name: "only not found", ds: []decision{{Time: at(1), Decision: "Deny", Status: 404, Error: `pod with specificed IP "10.244.0.7" not found`}},
			wantErr: "kube2iam logged no Allow"},
		{name: "the finished pod's role served to the new pod (the bug)", ds: []decision{{Time: at(1), Decision: "Allow", Pod: oldPod, Role: oldRole}},
			wantErr: "Allow " + oldRole + " for " + oldPod, isOld: true},
		{name: "the finished pod's role under the new pod's name", ds: []decision{allowNew, {Time: at(2), Decision: "Allow", Pod: newPod, Role: oldRole}},
			wantErr: "finished pod", isOld: true},
		{name: "both pods indexed: refused", ds: []decision{{Time: at(1), Decision: "Deny", Pod: "", Status: 404, Error: "2 pods ([ipreuse-new-1 ipreuse-old-1]) with the ip 10.244.0.7 indexed"}},
			wantErr: `kube2iam refused the IP (pod ""): 404 2 pods ([ipreuse-new-1 ipreuse-old-1]) with the ip 10.244.0.7 indexed`},
		{name: "the new pod refused", ds: []decision{{Time: at(1), Decision: "Deny", Pod: newPod, Role: newRole, Status: 500, Error: "AccessDenied"}},
			wantErr: `kube2iam refused the IP (pod "idlab-kube2iam/ipreuse-new-1"): 500 AccessDenied`},
		{name: "another role for the new pod", ds: []decision{{Time: at(1), Decision: "Allow", Pod: newPod, Role: anotherRole}},
			wantErr: "kube2iam allowed the new pod " + anotherRole},
		{name: "a third pod at the IP", ds: []decision{allowNew, {Time: at(2), Decision: "Allow", Pod: "x/y", Role: newRole}},
			wantErr: `kube2iam allowed "x/y" at the IP`},
		{name: "nothing since the new pod started", ds: []decision{{Time: at(-1), Decision: "Allow", Pod: newPod, Role: newRole}},
			wantErr: "kube2iam logged no Allow for " + newPod},
		{name: "no decisions", wantErr: "no Allow"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := checkReuse(tc.ds, since, newPod, newRole, oldPod, oldRole)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.Equal(t, tc.isOld, errors.Is(err, errOldRole))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// parseDecisions are the decision lines of a kube2iam log.
func parseDecisions(raw []byte) []decision {
	var out []decision
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var d decision
		if json.Unmarshal(sc.Bytes(), &d) == nil && d.Msg == "kube2iam decision" {
			out = append(out, d)
		}
	}
	return out
}
