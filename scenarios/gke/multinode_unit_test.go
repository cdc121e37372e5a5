package gke

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMDSCrossNodeObserved: the cross-node row holds only when the pod got
// Metadata404 and the other node's server logged that it knew no pod at
// the caller's address; a token issued, another refusal or no line at all
// is not as expected.
func TestMDSCrossNodeObserved(t *testing.T) {
	log := []byte(`{"time":"t","level":"INFO","msg":"gke metadata server serving","addr":":988"}
{"time":"t","level":"INFO","msg":"caller not served","request_id":"1","path":"/computeMetadata/v1/instance/service-accounts/default/token","remote_ip":"172.18.0.2","decision":"deny","principal":"ip:172.18.0.2","action":"token","reason":"no pod with this IP on the node"}
not json
{"time":"t","level":"INFO","msg":"token issued","remote_ip":"10.244.1.5","decision":"allow","principal":"serviceAccount:idlab-multinode/app-b","gsa":"team-b-reader@idlab.iam.gserviceaccount.com","reason":"pod on this node"}
`)
	lines := mdsLines(log)
	require.Len(t, lines, 2)
	require.True(t, issued(lines, "serviceAccount:idlab-multinode/app-b", "team-b-reader@idlab.iam.gserviceaccount.com"))
	require.False(t, issued(lines, "serviceAccount:idlab-multinode/app-a", "team-b-reader@idlab.iam.gserviceaccount.com"))
	tests := []struct {
		name    string
		ok      bool
		code    string
		callers []string
		want    string
	}{
		{name: "denied, masqueraded", code: "Metadata404", callers: []string{"10.244.0.9", "172.18.0.2"}, want: mdsCrossNodeDenied},
		{name: "allowed", ok: true, callers: []string{"172.18.0.2"}, want: "allow"},
		{name: "the pod saw another code", code: "NoDefaultCredentials", callers: []string{"172.18.0.2"}},
		{name: "no line about the caller", code: "Metadata404", callers: []string{"10.244.0.9"}},
		{name: "a token issued to the caller", code: "Metadata404", callers: []string{"10.244.1.5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mdsCrossNodeObserved(tc.ok, tc.code, lines, tc.callers...)
			if tc.want != "" {
				require.Equal(t, tc.want, got)
				return
			}
			require.NotEqual(t, mdsCrossNodeDenied, got)
			require.NotEqual(t, "allow", got)
		})
	}
	// A 404 first and a token after (the pod retried and was served): a
	// leak, whatever the pod's last error says.
	both := append(mdsLines(log)[:1:1], mdsLine{Msg: "token issued", Decision: "allow", RemoteIP: "172.18.0.2",
		Principal: "serviceAccount:idlab-multinode/app-b", GSA: readerB})
	got := mdsCrossNodeObserved(false, "Metadata404", both, "172.18.0.2")
	require.NotEqual(t, mdsCrossNodeDenied, got)
	require.Contains(t, got, "issued serviceAccount:idlab-multinode/app-b a token")
	require.Equal(t, "allow from gke-worker's metadata server", mdsServedBy(true, "", []string{"gke-worker"}))
	require.Equal(t, "HTTP403 (a token issued on 0 nodes: [])", mdsServedBy(false, "HTTP403", nil))
}

// TestMDSTextLines: the metadata server logs with slog's text handler; its
// lines (taken from a lab run) read as the JSON ones do.
func TestMDSTextLines(t *testing.T) {
	log := []byte(`time=2026-12-07T12:26:31.475Z level=INFO msg="token issued" request_id=f6721cacc346fbef path=/computeMetadata/v1/instance/service-accounts/default/token remote_ip=10.244.0.26 decision=allow principal=serviceAccount:idlab-multinode/app-a gsa=team-a-reader@idlab.iam.gserviceaccount.com action=token resource=default reason="pod on this node"
time=2026-12-07T12:27:17.159Z level=INFO msg="caller not served" request_id=c1468314cdf01904 path=/computeMetadata/v1/instance/service-accounts/default/token remote_ip=172.18.0.7 decision=deny principal=ip:172.18.0.7 action=token reason="no pod with IP \"172.18.0.7\""
time=2026-12-07T12:27:18.000Z level=INFO msg="gke metadata server serving" addr=:988
a line that is not slog's
`)
	lines := mdsLines(log)
	require.Equal(t, []mdsLine{
		{Msg: "token issued", Decision: "allow", RemoteIP: "10.244.0.26", Principal: "serviceAccount:idlab-multinode/app-a", GSA: "team-a-reader@idlab.iam.gserviceaccount.com", Reason: "pod on this node"},
		{Msg: "caller not served", Decision: "deny", RemoteIP: "172.18.0.7", Principal: "ip:172.18.0.7", Reason: `no pod with IP "172.18.0.7"`},
	}, lines)
	require.True(t, issued(lines, "serviceAccount:idlab-multinode/app-a", "team-a-reader@idlab.iam.gserviceaccount.com"))
}
