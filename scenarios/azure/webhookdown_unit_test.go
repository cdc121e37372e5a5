package azure

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/idlab/idlab/components/azurewebhook"
	"github.com/idlab/idlab/idlabtest"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// TestDownConfig: each stand-in is upstream's webhook (name, path, rules,
// timeout, side effects) with its own failure policy, and selects exactly
// the pods of downNS labelled for it: not the pods the lab's webhook
// selects, not another namespace's, not the other stand-in's.
func TestDownConfig(t *testing.T) {
	upstream := azurewebhook.Config([]byte("ca"), "svc", "ns").Webhooks[0]
	pod := func(l map[string]string) labels.Set { return labels.Set(l) }
	nsLabels := func(name string) labels.Set { return labels.Set{"kubernetes.io/metadata.name": name} }
	for _, p := range []admissionregistrationv1.FailurePolicyType{admissionregistrationv1.Fail, admissionregistrationv1.Ignore} {
		t.Run(string(p), func(t *testing.T) {
			cfg := downConfig([]byte("ca"), p)
			require.Equal(t, downConfigName(p), cfg.Name)
			require.NotEqual(t, azurewebhook.ConfigName, cfg.Name, "never the lab's own configuration")
			require.Len(t, cfg.Webhooks, 1)
			w := cfg.Webhooks[0]
			require.Equal(t, azurewebhook.WebhookName, w.Name)
			require.Equal(t, p, *w.FailurePolicy)
			require.Equal(t, upstream.Rules, w.Rules)
			require.Equal(t, upstream.SideEffects, w.SideEffects)
			require.Equal(t, upstream.TimeoutSeconds, w.TimeoutSeconds)
			require.Equal(t, int32(10), *w.TimeoutSeconds, "the ?timeout=10s of downCallFailure")
			require.Equal(t, upstream.ReinvocationPolicy, w.ReinvocationPolicy)
			require.Equal(t, &admissionregistrationv1.ServiceReference{Namespace: downNS, Name: downService, Path: upstream.ClientConfig.Service.Path, Port: upstream.ClientConfig.Service.Port},
				w.ClientConfig.Service)
			require.Equal(t, int32(443), *w.ClientConfig.Service.Port)
			require.Equal(t, []byte("ca"), w.ClientConfig.CABundle)

			objSel, err := metav1.LabelSelectorAsSelector(w.ObjectSelector)
			require.NoError(t, err)
			nsSel, err := metav1.LabelSelectorAsSelector(w.NamespaceSelector)
			require.NoError(t, err)
			other := admissionregistrationv1.Ignore
			if p == other {
				other = admissionregistrationv1.Fail
			}
			require.True(t, objSel.Matches(pod(map[string]string{downLabel: string(p), "app.kubernetes.io/part-of": "idlab-scenarios"})))
			require.False(t, objSel.Matches(pod(map[string]string{downLabel: string(other)})), "the other stand-in's pod")
			require.False(t, objSel.Matches(pod(map[string]string{azurewebhook.UseLabel: "true"})), "the lab's webhook's pod")
			require.True(t, nsSel.Matches(nsLabels(downNS)))
			require.False(t, nsSel.Matches(nsLabels(ns)), "another suite's namespace")
			require.False(t, nsSel.Matches(nsLabels("kube-system")))
		})
	}
}

// TestDownServiceHasNoEndpoints: the Service selects pods nothing runs.
func TestDownServiceHasNoEndpoints(t *testing.T) {
	s := downServiceObject()
	require.Equal(t, downService, s.Name)
	require.Equal(t, downNS, s.Namespace)
	require.Equal(t, map[string]string{"app": downService}, s.Spec.Selector)
	require.Len(t, s.Spec.Ports, 1)
	require.Equal(t, int32(443), s.Spec.Ports[0].Port)
}

// TestDownCallFailure builds the API server's text the way it does: an
// http.Client whose dialer sends the webhook's host name to another
// address (the ClusterIP resolver's Dial in k8s.io/apiserver
// pkg/util/webhook/client.go), POSTing to the webhook URL with client-go's
// timeout parameter, against a port nothing listens on; the dispatcher's
// "failed to call webhook: %w" and ErrCallingWebhook's
// "failed calling webhook %q: %v" around it; NewInternalError's prefix for
// the refusal. Only the port differs from the lab's (a free one, not 443).
func TestDownCallFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)

	host := downService + "." + downNS + ".svc:443"
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		require.Equal(t, host, a)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}}
	resp, err := c.Post("https://"+host+azurewebhook.WebhookPath+"?timeout=10s", "application/json", strings.NewReader("{}"))
	if resp != nil {
		resp.Body.Close()
	}
	require.Error(t, err)
	callErr := fmt.Errorf("failed calling webhook %q: %w", azurewebhook.WebhookName, fmt.Errorf("failed to call webhook: %w", err))
	got := strings.Replace(callErr.Error(), "127.0.0.1:"+port+":", "127.0.0.1:443:", 1)
	require.Equal(t, downCallFailure("127.0.0.1"), got)
	require.Equal(t, "Internal error occurred: "+got, downRefusal("127.0.0.1"))
	require.True(t, errors.Is(err, errConnRefused(t)), "%v", err)
}

// errConnRefused is the error a dial to a closed local port gives.
func errConnRefused(t *testing.T) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	_, err = net.Dial("tcp", addr)
	var op *net.OpError
	require.ErrorAs(t, err, &op)
	return errors.Unwrap(errors.Unwrap(op))
}

// klogLine is a kube-apiserver log line as klog writes the dispatcher's
// warning.
func klogLine(policy, failure string) string {
	return "W1207 02:03:04.123456       1 dispatcher.go:210] Failed calling webhook, failing " + policy + " " +
		azurewebhook.WebhookName + ": " + failure
}

func TestWebhookFailures(t *testing.T) {
	f := downCallFailure("10.96.12.34")
	tests := []struct {
		name         string
		log          string
		open, closed int
	}{
		{"empty", "", 0, 0},
		{"one open", klogLine("open", f) + "\n", 1, 0},
		{"one closed without newline", klogLine("closed", f), 0, 1},
		{"both and noise", "I1207 started\n" + klogLine("closed", f) + "\n" + klogLine("open", f) + "\n" + klogLine("closed", f) + "\nE1207 other\n", 1, 2},
		{"another service", klogLine("open", strings.Replace(f, downService, "other-svc", 1)), 0, 0},
		{"another cluster IP", klogLine("closed", downCallFailure("10.96.0.1")), 0, 0},
		{"another webhook", strings.Replace(klogLine("open", f), "failing open "+azurewebhook.WebhookName, "failing open other.example.com", 1), 0, 0},
		{"a timeout, not a refusal", klogLine("open", strings.Replace(f, "connect: connection refused", "i/o timeout", 1)), 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			open, closed := webhookFailures([]byte(tc.log), f)
			require.Equal(t, [2]int{tc.open, tc.closed}, [2]int{open, closed})
		})
	}
}

// FuzzWebhookFailures: any log is read without panic, never counts more
// lines than it has, and one more failing-closed line counts one more.
func FuzzWebhookFailures(f *testing.F) {
	failure := downCallFailure("10.96.12.34")
	f.Add([]byte(""))
	f.Add([]byte(klogLine("open", failure) + "\n" + klogLine("closed", failure)))
	f.Add([]byte("Failed calling webhook, failing open \n\x00\xff"))
	f.Fuzz(func(t *testing.T, log []byte) {
		open, closed := webhookFailures(log, failure)
		require.LessOrEqual(t, open+closed, strings.Count(string(log), "\n")+1)
		open2, closed2 := webhookFailures(append(append([]byte{}, log...), []byte("\n"+klogLine("closed", failure))...), failure)
		require.Equal(t, open, open2)
		require.Equal(t, closed+1, closed2)
	})
}

// TestLabAzureWebhookDownRestsOnTheFixture is the fixture side of the
// webhook-up row: as shipped, downNS/downSA's token is traded for
// bugs-fixed's; without its federated credential it would be AADSTS700213,
// so the row's allow rests on that credential and the webhook-down rows'
// refusals on the webhook alone.
func TestLabAzureWebhookDownRestsOnTheFixture(t *testing.T) {
	aks := fixturecheck.Issuer("aks")
	shipped := fixturecheck.Read(t, "azure/lab.yaml")
	const cred = "          - name: aks-webhook-down\n"
	without := fixturecheck.Replace(t, shipped, cred, "          - name: aks-webhook-down-elsewhere\n")
	without = fixturecheck.Replace(t, without, ":"+downNS+":"+downSA+"\n", ":"+downNS+":elsewhere\n")
	for _, fx := range []struct {
		name, fixture, want string
	}{{"shipped", shipped, ""}, {"without the credential", without, "AADSTS700213"}} {
		t.Run(fx.name, func(t *testing.T) {
			c := idlabtest.NewCloud(t, idlabtest.CloudOptions{AzureFixtures: fixturecheck.Write(t, fx.fixture), Issuers: []string{aks}})
			require.Equal(t, fx.want, azureRow(t, c, c.Issuer(aks), downNS, downSA, appFixed, "", ""))
		})
	}
}
