package gkemetadata

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/clock"
)

const (
	project   = "idlab"
	projNum   = "123456789012"
	pool      = "idlab.svc.id.goog"
	issuerURL = "https://container.googleapis.com/v1/projects/idlab/locations/us-central1/clusters/gke"
	nodeName  = "gke-node-1"
	nodeIP    = "172.18.0.2"
	reader    = "reader@idlab.iam.gserviceaccount.com"
	unbound   = "unbound@idlab.iam.gserviceaccount.com"

	ipApp       = "10.244.0.10" // team-a/app, annotated reader (bound)
	ipPlain     = "10.244.0.11" // team-a/plain, no annotation
	ipUnbound   = "10.244.0.12" // team-b/app, annotated unbound (no binding)
	ipElsewhere = "10.244.1.10" // team-a/app on another node
	ipHostNet   = nodeIP        // a hostNetwork pod
	ipUnknown   = "10.244.0.99"

	// sourceIPHeader carries the caller's IP from test transports to
	// Options.RemoteIP (the real server uses the connection's address).
	sourceIPHeader = "X-Test-Source-Ip"
)

// lab is a GKE node's metadata server in front of a fake API server, an
// OIDC issuer for the cluster's service-account tokens and Google's
// identity plane (gcpiam) reached over HTTPS.
type lab struct {
	clk       *clock.Clock
	iam       *gcpiam.Server
	issuer    *oidc.Issuer
	client    *fake.Clientset
	h         *Handler
	srv       *httptest.Server
	defaultIP atomic.Value // string: the caller IP when no header says
	tokenReqs atomic.Int32
}

func newLab(t *testing.T, mut func(*Options)) *lab {
	t.Helper()
	ca, err := certs.NewCA("gkemetadata test")
	require.NoError(t, err)
	l := &lab{clk: clock.New(nil)}
	issuers, err := oidc.NewServer(oidc.Options{CA: ca, Now: l.clk.Now})
	require.NoError(t, err)
	t.Cleanup(issuers.Close)
	l.issuer, err = issuers.Handler().AddIssuer(issuerURL, oidc.WithJWKSPath("/jwks"))
	require.NoError(t, err)
	_, err = l.issuer.AddKey("RS256")
	require.NoError(t, err)

	l.iam, err = gcpiam.NewServer(gcpiam.Options{CA: ca, Now: l.clk.Now, HTTPClient: issuers.Client()})
	require.NoError(t, err)
	t.Cleanup(l.iam.Close)
	g := l.iam.Handler()
	_, err = g.AddProject(project, projNum)
	require.NoError(t, err)
	require.NoError(t, g.AddWorkloadIdentityPool(gcpiam.Pool{Project: project, ID: pool, Issuer: issuerURL}))
	for _, id := range []string{"reader", "unbound"} {
		_, err = g.AddServiceAccount(project, id, "")
		require.NoError(t, err)
	}
	require.NoError(t, g.AddBinding("projects/idlab/serviceAccounts/"+reader, "roles/iam.workloadIdentityUser", "serviceAccount:"+pool+"[team-a/app]"))

	l.client = fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}, Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/24", PodCIDRs: []string{"10.244.0.0/24"}}},
		ksa("team-a", "app", reader), ksa("team-a", "plain", ""), ksa("team-b", "app", unbound),
		pod("team-a", "app", "app", ipApp, nodeName, false),
		pod("team-a", "plain", "plain", ipPlain, nodeName, false),
		pod("team-b", "app", "app", ipUnbound, nodeName, false),
		pod("team-a", "elsewhere", "app", ipElsewhere, "gke-node-2", false),
		pod("kube-system", "hostnet", "default", ipHostNet, nodeName, true),
	)
	l.client.PrependReactor("create", "serviceaccounts", l.tokenReactor)

	l.defaultIP.Store(ipApp)
	opts := Options{
		Client: l.client, NodeName: nodeName, NodeIP: nodeIP,
		ProjectID: project, ProjectNumber: projNum, ClusterName: "gke", ClusterLocation: "us-central1",
		IssuerURL: issuerURL, GoogleHTTPClient: l.iam.Client(), Now: l.clk.Now,
		RemoteIP: func(r *http.Request) string {
			if ip := r.Header.Get(sourceIPHeader); ip != "" {
				return ip
			}
			return l.defaultIP.Load().(string)
		},
	}
	if mut != nil {
		mut(&opts)
	}
	l.h, err = New(opts)
	require.NoError(t, err)
	startCaches(t, l.h, l.client)
	l.srv = httptest.NewServer(l.h)
	t.Cleanup(l.srv.Close)
	return l
}

// tokenReactor answers TokenRequest (serviceaccounts/token create) as
// kube-apiserver does: a token from the cluster issuer with the requested
// audiences, bound to the pod.
func (l *lab) tokenReactor(action k8stesting.Action) (bool, runtime.Object, error) {
	if action.GetSubresource() != "token" {
		return false, nil, nil
	}
	ca := action.(k8stesting.CreateActionImpl)
	tr := ca.GetObject().(*authenticationv1.TokenRequest)
	req := oidc.TokenRequest{Namespace: ca.GetNamespace(), ServiceAccount: ca.Name, Audiences: tr.Spec.Audiences}
	if tr.Spec.ExpirationSeconds != nil {
		req.ExpirationSeconds = *tr.Spec.ExpirationSeconds
	}
	if b := tr.Spec.BoundObjectRef; b != nil && b.Kind == "Pod" {
		req.Pod = &oidc.ObjectRef{Name: b.Name, UID: string(b.UID)}
	}
	tok, err := l.issuer.MintServiceAccountToken(req)
	if err != nil {
		return true, nil, err
	}
	l.tokenReqs.Add(1)
	out := tr.DeepCopy()
	out.Status = authenticationv1.TokenRequestStatus{Token: tok, ExpirationTimestamp: metav1.NewTime(l.clk.Now().Add(3600e9))}
	return true, out, nil
}

// startCaches runs h's informers until the test ends and returns once
// they have listed and their watches are open: the fake clientset sends an
// object created between a list and its watch to no one.
func startCaches(t *testing.T, h *Handler, client *fake.Clientset) {
	t.Helper()
	var mu sync.Mutex
	watching := map[string]bool{}
	// The fake holds its lock from this reactor until its tracker has
	// registered the watch, so a create that follows waits for it.
	client.PrependWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		mu.Lock()
		defer mu.Unlock()
		watching[a.GetResource().Resource] = true
		return false, nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, h.Start(ctx))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return watching["pods"] && watching["serviceaccounts"]
	}, 10*time.Second, time.Millisecond, "the informers' watches")
}

func ksa(ns, name, gsa string) *corev1.ServiceAccount {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if gsa != "" {
		sa.Annotations = map[string]string{AnnotationGSA: gsa}
	}
	return sa
}

func pod(ns, name, sa, ip, node string, hostNetwork bool) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "-" + name + "-uid")},
		Spec:       corev1.PodSpec{ServiceAccountName: sa, NodeName: node, HostNetwork: hostNetwork},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}},
	}
}

// sourceIP is a transport that marks requests as coming from ip.
type sourceIP struct {
	ip   string
	next http.RoundTripper
}

func (s sourceIP) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(sourceIPHeader, s.ip)
	return s.next.RoundTrip(r)
}

// podClient is an http.Client whose requests come from ip.
func (l *lab) podClient(ip string) *http.Client {
	return &http.Client{Transport: sourceIP{ip: ip, next: http.DefaultTransport}}
}

// get sends a raw metadata request from ip with the flavor header.
func (l *lab) get(t *testing.T, ip, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, l.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Metadata-Flavor", "Google")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := l.podClient(ip).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b []byte
	b, err = readAll(resp)
	require.NoError(t, err)
	return resp, string(b)
}

func readAll(resp *http.Response) ([]byte, error) { return io.ReadAll(resp.Body) }
