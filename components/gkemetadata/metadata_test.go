package gkemetadata

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/metadata"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2/google"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idlab/idlab/internal/jwtverify"
)

// metadataClient is the unmodified compute/metadata client of a pod at ip.
func (l *lab) metadataClient(t *testing.T, ip string) *metadata.Client {
	t.Helper()
	u, err := url.Parse(l.srv.URL)
	require.NoError(t, err)
	t.Setenv("GCE_METADATA_HOST", u.Host)
	return metadata.NewWithOptions(&metadata.Options{Client: l.podClient(ip)})
}

// TestSDKBoundKSA drives cloud.google.com/go/compute/metadata as a pod
// whose KSA is annotated with a GSA it is bound to.
func TestSDKBoundKSA(t *testing.T) {
	l := newLab(t, nil)
	ctx := context.Background()
	c := l.metadataClient(t, ipApp)

	id, err := c.ProjectIDWithContext(ctx)
	require.NoError(t, err)
	require.Equal(t, project, id)
	num, err := c.NumericProjectIDWithContext(ctx)
	require.NoError(t, err)
	require.Equal(t, projNum, num)
	zone, err := c.ZoneWithContext(ctx)
	require.NoError(t, err)
	require.Equal(t, "us-central1", zone)
	name, err := c.InstanceAttributeValueWithContext(ctx, "cluster-name")
	require.NoError(t, err)
	require.Equal(t, "gke", name)
	email, err := c.EmailWithContext(ctx, "")
	require.NoError(t, err)
	require.Equal(t, reader, email)
	scopes, err := c.ScopesWithContext(ctx, "default")
	require.NoError(t, err)
	require.Contains(t, scopes, scopeCloudPlatform)
	accts, err := c.GetWithContext(ctx, "instance/service-accounts/")
	require.NoError(t, err)
	require.Equal(t, "default/\n"+reader+"/\n", accts)

	for _, acct := range []string{"default", reader} {
		raw, err := c.GetWithContext(ctx, "instance/service-accounts/"+acct+"/token")
		require.NoError(t, err)
		var tok tokenAnswer
		require.NoError(t, json.Unmarshal([]byte(raw), &tok))
		require.Equal(t, "Bearer", tok.TokenType)
		require.InDelta(t, 3600, tok.ExpiresIn, 2)
		info, err := l.iam.Handler().VerifyAccessToken(tok.AccessToken)
		require.NoError(t, err)
		require.Equal(t, reader, info.Email)
		require.False(t, info.Federated)
	}
	require.EqualValues(t, 1, l.tokenReqs.Load(), "the second token comes from the cache")

	// ?scopes= asks for other scopes.
	raw, err := c.GetWithContext(ctx, "instance/service-accounts/default/token?scopes="+url.QueryEscape("https://www.googleapis.com/auth/devstorage.read_only"))
	require.NoError(t, err)
	var tok tokenAnswer
	require.NoError(t, json.Unmarshal([]byte(raw), &tok))
	info, err := l.iam.Handler().VerifyAccessToken(tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, []string{"https://www.googleapis.com/auth/devstorage.read_only"}, info.Scopes)

	// Recursive JSON of the account.
	raw, err = c.GetWithContext(ctx, "instance/service-accounts/default/?recursive=true")
	require.NoError(t, err)
	var rec struct {
		Email   string   `json:"email"`
		Aliases []string `json:"aliases"`
	}
	require.NoError(t, json.Unmarshal([]byte(raw), &rec))
	require.Equal(t, reader, rec.Email)
	require.Equal(t, []string{"default"}, rec.Aliases)
}

// TestIdentityToken checks ID tokens against gcpiam's published keys.
func TestIdentityToken(t *testing.T) {
	l := newLab(t, nil)
	ctx := context.Background()
	c := l.metadataClient(t, ipApp)
	v := jwtverify.Verifier{Keys: &jwtverify.DiscoveryKeys{Client: l.iam.Client(), Now: l.clk.Now}, Now: l.clk.Now}
	sa, err := l.iam.Handler().ServiceAccount(reader)
	require.NoError(t, err)

	tests := []struct {
		name  string
		query string
		aud   string
		email string
	}{
		{name: "standard", query: "?audience=https://app.example.com", aud: "https://app.example.com"},
		{name: "full", query: "?audience=https://app.example.com&format=full", aud: "https://app.example.com", email: reader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := c.GetWithContext(ctx, "instance/service-accounts/default/identity"+tc.query)
			require.NoError(t, err)
			tok, err := v.Verify(ctx, raw)
			require.NoError(t, err)
			require.Equal(t, "https://accounts.google.com", tok.Claims.Issuer)
			require.Equal(t, []string{tc.aud}, tok.Claims.Audience)
			require.Equal(t, sa.UniqueID, tok.Claims.Subject)
			require.Equal(t, tc.email, tok.Claims.String("email"))
		})
	}
}

// TestComputeTokenSource drives golang.org/x/oauth2/google's metadata
// token source, which uses the package-level metadata client.
func TestComputeTokenSource(t *testing.T) {
	l := newLab(t, nil)
	l.metadataClient(t, ipApp) // sets GCE_METADATA_HOST
	l.defaultIP.Store(ipApp)
	tok, err := google.ComputeTokenSource("", scopeCloudPlatform).Token()
	require.NoError(t, err)
	info, err := l.iam.Handler().VerifyAccessToken(tok.AccessToken)
	require.NoError(t, err)
	require.Equal(t, reader, info.Email)
	require.WithinDuration(t, time.Now().Add(time.Hour), tok.Expiry, time.Minute)
}

// TestUnannotatedKSA: GKE hands a KSA without iam.gke.io/gcp-service-account
// the federated token of its workload identity, email PROJECT.svc.id.goog,
// and no ID tokens.
func TestUnannotatedKSA(t *testing.T) {
	l := newLab(t, nil)
	ctx := context.Background()
	c := l.metadataClient(t, ipPlain)
	email, err := c.EmailWithContext(ctx, "")
	require.NoError(t, err)
	require.Equal(t, pool, email)
	accts, err := c.GetWithContext(ctx, "instance/service-accounts/")
	require.NoError(t, err)
	require.Equal(t, "default/\n"+pool+"/\n", accts)
	raw, err := c.GetWithContext(ctx, "instance/service-accounts/default/token")
	require.NoError(t, err)
	var tok tokenAnswer
	require.NoError(t, json.Unmarshal([]byte(raw), &tok))
	info, err := l.iam.Handler().VerifyAccessToken(tok.AccessToken)
	require.NoError(t, err)
	require.True(t, info.Federated)
	require.Equal(t, "serviceAccount:"+pool+"[team-a/plain]", info.Member())

	_, err = c.GetWithContext(ctx, "instance/service-accounts/default/identity?audience=x")
	var nd metadata.NotDefinedError
	require.ErrorAs(t, err, &nd)
}

// TestTokenCacheRefresh: tokens are reused until five minutes before they
// expire, then minted again.
func TestTokenCacheRefresh(t *testing.T) {
	l := newLab(t, nil)
	token := func() tokenAnswer {
		t.Helper()
		resp, body := l.get(t, ipApp, "/computeMetadata/v1/instance/service-accounts/default/token", nil)
		require.Equal(t, 200, resp.StatusCode, body)
		var tok tokenAnswer
		require.NoError(t, json.Unmarshal([]byte(body), &tok))
		return tok
	}
	first := token()
	l.clk.Advance(54 * time.Minute)
	again := token()
	require.Equal(t, first.AccessToken, again.AccessToken)
	require.InDelta(t, 6*60, again.ExpiresIn, 2, "expires_in counts down")
	require.EqualValues(t, 1, l.tokenReqs.Load())
	l.clk.Advance(2 * time.Minute)
	fresh := token()
	require.NotEqual(t, first.AccessToken, fresh.AccessToken)
	require.EqualValues(t, 2, l.tokenReqs.Load())
}

// TestDeny is the table of refusals, each with GKE's status and body.
func TestDeny(t *testing.T) {
	l := newLab(t, nil)
	const tokenPath = "/computeMetadata/v1/instance/service-accounts/default/token"
	tests := []struct {
		name   string
		ip     string
		path   string
		hdr    map[string]string
		status int
		body   string // prefix
	}{
		{name: "missing Metadata-Flavor", ip: ipApp, path: tokenPath, hdr: map[string]string{"Metadata-Flavor": ""},
			status: 403, body: "Missing required header \"Metadata-Flavor\": \"Google\"\n"},
		{name: "wrong Metadata-Flavor", ip: ipApp, path: "/computeMetadata/v1/project/project-id", hdr: map[string]string{"Metadata-Flavor": "Emulator"},
			status: 403, body: "Missing required header"},
		{name: "legacy header only", ip: ipApp, path: tokenPath, hdr: map[string]string{"Metadata-Flavor": "", "X-Google-Metadata-Request": "True"},
			status: 403, body: "Missing required header"},
		{name: "X-Forwarded-For", ip: ipApp, path: tokenPath, hdr: map[string]string{"X-Forwarded-For": "10.0.0.1"}, status: 403, body: msgForwarded},
		{name: "binding missing", ip: ipUnbound, path: tokenPath, status: 403,
			body: "Unable to generate access token; IAM returned 403 Forbidden: Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).\nThis error could be caused by a missing IAM policy binding on the target IAM service account.\n"},
		{name: "binding missing, identity", ip: ipUnbound, path: "/computeMetadata/v1/instance/service-accounts/default/identity?audience=a", status: 403,
			body: "Unable to generate ID token; IAM returned 403 Forbidden: Permission 'iam.serviceAccounts.getOpenIdToken' denied"},
		{name: "unannotated identity", ip: ipPlain, path: "/computeMetadata/v1/instance/service-accounts/default/identity?audience=a", status: 404,
			body: "Your Kubernetes service account (team-a/plain) is not annotated with a target Google service account"},
		{name: "identity without audience", ip: ipApp, path: "/computeMetadata/v1/instance/service-accounts/default/identity", status: 400,
			body: "non-empty audience parameter required\n"},
		{name: "unknown pod IP", ip: ipUnknown, path: tokenPath, status: 404, body: "Unable to find a pod with IP address 10.244.0.99 on node gke-node-1.\n"},
		{name: "pod on another node", ip: ipElsewhere, path: tokenPath, status: 404, body: "Unable to find a pod with IP address 10.244.1.10"},
		{name: "hostNetwork without NodeToken", ip: ipHostNet, path: tokenPath, status: 404, body: "The node's service account has no token source"},
		{name: "other account's email", ip: ipApp, path: "/computeMetadata/v1/instance/service-accounts/" + unbound + "/token", status: 404, body: "Not Found"},
		{name: "unknown path", ip: ipApp, path: "/computeMetadata/v1/instance/nope", status: 404, body: "Not Found"},
		{name: "other version", ip: ipApp, path: "/computeMetadata/v1beta1/project/project-id", status: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := l.get(t, tc.ip, tc.path, tc.hdr)
			require.Equal(t, tc.status, resp.StatusCode, body)
			require.True(t, strings.HasPrefix(body, tc.body), body)
			require.Equal(t, "Google", resp.Header.Get("Metadata-Flavor"))
			require.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
		})
	}
}

// TestDenyFromSDK: the SDK sees the binding error as GKE's 403.
func TestDenyFromSDK(t *testing.T) {
	l := newLab(t, nil)
	c := l.metadataClient(t, ipUnbound)
	email, err := c.EmailWithContext(context.Background(), "")
	require.NoError(t, err)
	require.Equal(t, unbound, email, "the email is the annotation's even without a binding")
	_, err = c.GetWithContext(context.Background(), "instance/service-accounts/default/token")
	var me *metadata.Error
	require.ErrorAs(t, err, &me)
	require.Equal(t, 403, me.Code)
	require.Contains(t, me.Message, "Permission 'iam.serviceAccounts.getAccessToken' denied")
	d := l.iam.Handler().Decisions()
	last := d[len(d)-1]
	require.False(t, last.Allowed())
	require.Equal(t, "serviceAccount:"+pool+"[team-b/app]", last.Principal)
}

// TestStatic covers the values that do not depend on the caller.
func TestStatic(t *testing.T) {
	l := newLab(t, nil)
	tests := []struct{ path, body, ctype string }{
		{"/", "computeMetadata/\n", "application/text"},
		{"/computeMetadata/v1/", "instance/\nproject/\n", "application/text"},
		{"/computeMetadata/v1", "instance/\nproject/\n", "application/text"},
		{"/computeMetadata/v1/project/project-id", project, "application/text"},
		{"/computeMetadata/v1/project/numeric-project-id", projNum, "application/text"},
		{"/computeMetadata/v1/instance/zone", "projects/" + projNum + "/zones/us-central1", "application/text"},
		{"/computeMetadata/v1/instance/attributes/cluster-location", "us-central1", "application/text"},
		{"/computeMetadata/v1/instance/attributes/", "cluster-location\ncluster-name\n", "application/text"},
		{"/computeMetadata/v1/instance/attributes/?recursive=true", `{"cluster-location":"us-central1","cluster-name":"gke"}` + "\n", "application/json"},
		{"/computeMetadata/v1/universe/universe-domain", "googleapis.com", "application/text"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := l.get(t, ipUnknown, tc.path, nil)
			require.Equal(t, 200, resp.StatusCode, body)
			require.Equal(t, tc.body, body)
			require.Equal(t, tc.ctype, resp.Header.Get("Content-Type"))
			require.Equal(t, "GKE Metadata Server", resp.Header.Get("Server"))
		})
	}
}

// TestNodeIdentity: hostNetwork callers get the node's account.
func TestNodeIdentity(t *testing.T) {
	exp := time.Now().Add(30 * time.Minute)
	l := newLab(t, func(o *Options) {
		o.NodeToken = func(context.Context) (string, time.Time, error) { return "ya29.node", exp, nil }
	})
	_, email := l.get(t, ipHostNet, "/computeMetadata/v1/instance/service-accounts/default/email", nil)
	require.Equal(t, projNum+"-compute@developer.gserviceaccount.com", email)
	resp, body := l.get(t, ipHostNet, "/computeMetadata/v1/instance/service-accounts/default/token", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	var tok tokenAnswer
	require.NoError(t, json.Unmarshal([]byte(body), &tok))
	require.Equal(t, "ya29.node", tok.AccessToken)
}

func TestNewValidates(t *testing.T) {
	_, err := New(Options{})
	require.ErrorIs(t, err, ErrInvalidOptions)
	require.ErrorContains(t, err, "Client")
	require.ErrorContains(t, err, "IssuerURL")
}

// TestDecisionLog: allows and denies are logged with decision, principal,
// action, reason and request_id.
func TestDecisionLog(t *testing.T) {
	var buf safeBuffer
	l := newLab(t, func(o *Options) { o.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) })
	l.get(t, ipApp, "/computeMetadata/v1/instance/service-accounts/default/token", nil)
	l.get(t, ipUnbound, "/computeMetadata/v1/instance/service-accounts/default/token", nil)
	l.get(t, ipUnknown, "/computeMetadata/v1/instance/service-accounts/default/email", nil)
	var entries []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		entries = append(entries, m)
	}
	require.Len(t, entries, 3)
	want := []struct{ decision, principal, action, reason string }{
		{"allow", "serviceAccount:team-a/app", "token", "pod on this node"},
		{"deny", "serviceAccount:team-b/app", "token", "IAM returned 403 Forbidden: Permission 'iam.serviceAccounts.getAccessToken' denied"},
		{"deny", "ip:" + ipUnknown, "metadata:instance/service-accounts/default/email", "no pod with this IP on the node"},
	}
	for i, w := range want {
		e := entries[i]
		require.Equal(t, w.decision, e["decision"], e)
		require.Equal(t, w.principal, e["principal"], e)
		require.Equal(t, w.action, e["action"], e)
		require.Contains(t, e["reason"], w.reason, e)
		require.NotEmpty(t, e["request_id"], e)
	}
}

// safeBuffer is a bytes.Buffer safe for the server's goroutines.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPodPublishedLate: a container's first call can come before the
// kubelet has published the pod's IP; with PodLookupWait the server waits
// for the pod informer to bring it, without it the caller is unknown
// (seen in the lab: every first call of a probe pod failed). The wait
// asks the API server nothing: it is woken by the watch.
func TestPodPublishedLate(t *testing.T) {
	const ipLate = "10.244.0.50"
	for _, tc := range []struct {
		name string
		wait time.Duration
		ok   bool
	}{{"waits for the pod", 10 * time.Second, true}, {"no wait", 0, false}} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, func(o *Options) { o.PodLookupWait = tc.wait })
			before := len(l.client.Actions())
			if tc.ok {
				// The pod is published once the request waits for it,
				// however fast or slow this machine is.
				go func() {
					for end := time.Now().Add(tc.wait); l.h.api.waiting(ipLate) == 0 && time.Now().Before(end); {
						time.Sleep(time.Millisecond)
					}
					_, _ = l.client.CoreV1().Pods("team-a").Create(context.Background(), pod("team-a", "late", "app", ipLate, nodeName, false), metav1.CreateOptions{})
				}()
			}
			start := time.Now()
			resp, body := l.get(t, ipLate, "/computeMetadata/v1/instance/service-accounts/default/email", nil)
			require.Empty(t, lookups(l.client.Actions()[before:]), "no pod or service account read from the API")
			if tc.ok {
				require.Equal(t, http.StatusOK, resp.StatusCode, body)
				require.Equal(t, reader, body)
				require.Less(t, time.Since(start), tc.wait/2, "woken by the watch, not by the end of the wait")
				return
			}
			require.Equal(t, http.StatusNotFound, resp.StatusCode, body)
			require.Equal(t, "Unable to find a pod with IP address "+ipLate+" on node "+nodeName+".\n", body)
		})
	}
}

// TestNodeIdentityFromKSA: with NodeKSA the node's token is that KSA's,
// exchanged at STS, impersonating the node's GSA, and a missing binding is
// IAM's 403 as for pods.
func TestNodeIdentityFromKSA(t *testing.T) {
	const nodeSA = "reader@idlab.iam.gserviceaccount.com" // reuse the lab's GSA as the node's
	for _, tc := range []struct {
		name   string
		ksa    string
		status int
	}{{"bound", "team-a/app", http.StatusOK}, {"unbound", "kube-system/gke-metadata-server", http.StatusForbidden}} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, func(o *Options) { o.NodeKSA, o.NodeServiceAccount = tc.ksa, nodeSA })
			_, email := l.get(t, ipHostNet, "/computeMetadata/v1/instance/service-accounts/default/email", map[string]string{"Metadata-Flavor": "Google"})
			require.Equal(t, nodeSA, email)
			resp, body := l.get(t, ipHostNet, "/computeMetadata/v1/instance/service-accounts/default/token", map[string]string{"Metadata-Flavor": "Google"})
			require.Equal(t, tc.status, resp.StatusCode, body)
			if tc.status != http.StatusOK {
				require.Contains(t, body, "iam.serviceAccounts.getAccessToken")
				return
			}
			var tok tokenAnswer
			require.NoError(t, json.Unmarshal([]byte(body), &tok))
			info, err := l.iam.Handler().VerifyAccessToken(tok.AccessToken)
			require.NoError(t, err)
			require.Equal(t, nodeSA, info.Email)
		})
	}
}

// TestCallerOutsideNodePods: an address in none of the node's pod ranges
// (another node's pod or the node itself, as a request routed from
// elsewhere arrives) is no pod of this node: 404 at once, where an
// unknown address inside them waits for its pod. With a wait of an hour
// the test only ends if nothing waited.
func TestCallerOutsideNodePods(t *testing.T) {
	l := newLab(t, func(o *Options) { o.PodLookupWait = time.Hour })
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.244.0.0/24")}, l.h.api.podCIDRs)
	for _, ip := range []string{ipElsewhere, "172.18.0.9", "192.0.2.1", "::ffff:10.244.1.10"} {
		t.Run(ip, func(t *testing.T) {
			resp, body := l.get(t, ip, "/computeMetadata/v1/instance/service-accounts/default/token", nil)
			require.Equal(t, http.StatusNotFound, resp.StatusCode, body)
			require.Equal(t, "Unable to find a pod with IP address "+ip+" on node "+nodeName+".\n", body)
		})
	}
	for _, tc := range []struct {
		ip      string
		outside bool
	}{{ipUnknown, false}, {ipApp, false}, {ipElsewhere, true}, {"not-an-ip", true}, {"::ffff:10.244.0.7", false}} {
		require.Equal(t, tc.outside, l.h.api.outsidePods(tc.ip), tc.ip)
	}
	// Unknown ranges (the node could not be read): everyone waits, as before.
	require.False(t, (&apiCache{}).outsidePods(ipElsewhere))
}
