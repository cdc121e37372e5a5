package kube2iam_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/idlab/idlab/components/kube2iam"
	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awsimds"
	"github.com/idlab/idlab/emulators/awssts"
	"github.com/idlab/idlab/internal/certs"
)

const (
	account  = "123456789012"
	base     = "arn:aws:iam::" + account + ":role/"
	nodeRole = base + "eks-node"
	appRole  = base + "kube2iam-app"
	podIP    = "127.0.0.1"
)

// world is the node's instance metadata and STS on the lab fixture, as a
// kube2iam on an eks node sees them.
type world struct {
	iam  *awsiam.IAM
	imds *awsimds.Server
	sts  *awssts.Server
}

func newWorld(t *testing.T, imdsOpts func(*awsimds.Options)) *world {
	t.Helper()
	iam, err := awsiam.New(awsiam.Options{})
	require.NoError(t, err)
	raw, err := os.ReadFile("../../fixtures/aws/lab.yaml")
	require.NoError(t, err)
	require.NoError(t, iam.LoadFixtureYAML("lab.yaml", raw))
	// The proxy talks to IMDS from the node: with IMDSv2 required and a hop
	// limit of 1 it still works.
	o := awsimds.Options{IAM: iam, RoleARN: nodeRole, InstanceID: "i-0node", Region: "us-west-2", RequireV2: true, HopLimit: 1}
	if imdsOpts != nil {
		imdsOpts(&o)
	}
	md, err := awsimds.NewServer(o)
	require.NoError(t, err)
	t.Cleanup(md.Close)
	ca, err := certs.NewCA("kube2iam test")
	require.NoError(t, err)
	st, err := awssts.NewServer(awssts.Options{IAM: iam, CA: ca, Region: "us-east-1"})
	require.NoError(t, err)
	t.Cleanup(st.Close)
	return &world{iam: iam, imds: md, sts: st}
}

// proxy starts kube2iam, its caches filled, over objs (pods, namespaces)
// with opts changed by mod.
func (w *world) proxy(t *testing.T, mod func(*kube2iam.Options), objs ...runtime.Object) *httptest.Server {
	t.Helper()
	o := kube2iam.Options{Client: fake.NewSimpleClientset(objs...), NodeName: "node-1", HostIP: "10.0.0.10",
		BaseRoleARN: base, NamespaceRestriction: true, MetadataURL: w.imds.URL(),
		STSEndpoint: w.sts.URL(), STSClient: w.sts.Client(), BackoffMaxElapsed: time.Millisecond,
		RemoteIP: func(*http.Request) string { return podIP }}
	if mod != nil {
		mod(&o)
	}
	h, err := kube2iam.New(o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, h.Start(ctx))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func pod(ns, name, role string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{NodeName: "node-1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: podIP}}
	if role != "" {
		p.Annotations = map[string]string{kube2iam.DefaultRoleKey: role}
	}
	return p
}

func namespace(name, allowed string) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if allowed != "" {
		ns.Annotations = map[string]string{kube2iam.DefaultNamespaceKey: allowed}
	}
	return ns
}

// sdkRetrieve is the unmodified SDK instance-profile provider, as a pod's
// default chain runs it, against the proxy.
func sdkRetrieve(url string) (aws.Credentials, error) {
	c := imds.New(imds.Options{Endpoint: url, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	return ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = c }).Retrieve(context.Background())
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func callerARN(t *testing.T, w *world, creds aws.Credentials) string {
	t.Helper()
	cl := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(w.sts.URL()), HTTPClient: w.sts.Client(),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })})
	out, err := cl.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	return aws.ToString(out.Arn)
}

// TestRoleRules is one row per allow/deny rule: the pod's SDK either gets
// the role (checked at STS) or fails, and the proxy answers the credentials
// paths with upstream's status and text.
func TestRoleRules(t *testing.T) {
	notValid := func(ns string) string {
		return "role requested " + appRole + " not valid for namespace of pod at " + podIP + " with namespace " + ns + "\n"
	}
	tests := []struct {
		name     string
		mod      func(*kube2iam.Options)
		objs     []runtime.Object
		wantRole string // assumed role name when allowed
		status   int    // of GET security-credentials/ when refused
		text     string
		// roleStatus and roleText, of GET security-credentials/kube2iam-app,
		// default to status and text.
		roleStatus int
		roleText   string
	}{
		{name: "annotated name allowed by name", objs: objs(pod("a", "p", "kube2iam-app"), namespace("a", `["kube2iam-app"]`)), wantRole: "kube2iam-app"},
		{name: "annotated ARN allowed by name", objs: objs(pod("a", "p", appRole), namespace("a", `["kube2iam-app"]`)), wantRole: "kube2iam-app"},
		{name: "allowed by ARN", objs: objs(pod("a", "p", "kube2iam-app"), namespace("a", `["`+appRole+`"]`)), wantRole: "kube2iam-app"},
		{name: "glob allows", objs: objs(pod("a", "p", "kube2iam-app"), namespace("a", `["kube2iam-*"]`)), wantRole: "kube2iam-app"},
		{name: "glob star allows any role", objs: objs(pod("a", "p", "kube2iam-app"), namespace("a", `["*"]`)), wantRole: "kube2iam-app"},
		{name: "role outside allowed-roles", objs: objs(pod("a", "p", "kube2iam-app"), namespace("a", `["kube2iam-other"]`)),
			status: 404, text: notValid("a")},
		{name: "another namespace's role", objs: objs(pod("b", "p", "kube2iam-app"), namespace("a", `["kube2iam-app"]`), namespace("b", `["kube2iam-other"]`)),
			status: 404, text: notValid("b")},
		{name: "namespace without allowed-roles", objs: objs(pod("a", "p", "kube2iam-app"), namespace("a", "")), status: 404, text: notValid("a")},
		{name: "allowed-roles not a JSON array", objs: objs(pod("a", "p", "kube2iam-app"), namespace("a", `kube2iam-app`)), status: 404, text: notValid("a")},
		{name: "allowed-roles array of non-strings", objs: objs(pod("a", "p", "kube2iam-app"), namespace("a", `[1]`)), status: 404, text: notValid("a")},
		{name: "namespace not found", objs: objs(pod("a", "p", "kube2iam-app")), status: 404, text: notValid("a")},
		{name: "glob is not a regexp", objs: objs(pod("a", "p", "kube2iam-app"), namespace("a", `["kube2iam-a.*"]`)), status: 404, text: notValid("a")},
		{name: "regexp allows", mod: func(o *kube2iam.Options) { o.NamespaceRestrictionFormat = "regexp" },
			objs: objs(pod("a", "p", "kube2iam-app"), namespace("a", `["kube2iam-a.*"]`)), wantRole: "kube2iam-app"},
		{name: "regexp is unanchored: a prefix allows longer names", mod: func(o *kube2iam.Options) { o.NamespaceRestrictionFormat = "regexp" },
			objs: objs(pod("a", "p", "kube2iam-app"), namespace("a", `["kube2iam"]`)), wantRole: "kube2iam-app"},
		{name: "glob is anchored: a prefix is not enough", objs: objs(pod("a", "p", "kube2iam-app"), namespace("a", `["kube2iam"]`)),
			status: 404, text: notValid("a")},
		{name: "invalid regexp allows nothing", mod: func(o *kube2iam.Options) { o.NamespaceRestrictionFormat = "regexp" },
			objs: objs(pod("a", "p", "kube2iam-app"), namespace("a", `["kube2iam-(app"]`)), status: 404, text: notValid("a")},
		{name: "restrictions off: any annotated role", mod: func(o *kube2iam.Options) { o.NamespaceRestriction = false },
			objs: objs(pod("a", "p", "kube2iam-app"), namespace("a", `["kube2iam-other"]`)), wantRole: "kube2iam-app"},
		// Upstream's mapper takes the empty --default-role as the base ARN,
		// which lists as "" (its e2e TestUnannotatedPodNoCredentials).
		{name: "unannotated, no default role", objs: objs(pod("a", "p", ""), namespace("a", `["kube2iam-other"]`)),
			status: 200, text: "", roleStatus: 403, roleText: "Invalid role kube2iam-app\n"},
		{name: "annotated with an empty role", objs: objs(withRole(pod("a", "p", ""), ""), namespace("a", `["kube2iam-other"]`)),
			status: 200, text: "", roleStatus: 403, roleText: "Invalid role kube2iam-app\n"},
		{name: "unannotated, neither default role nor base ARN", mod: func(o *kube2iam.Options) { o.BaseRoleARN = "" },
			objs: objs(pod("a", "p", ""), namespace("a", `["*"]`)), status: 404, text: "unable to find role for IP " + podIP + "\n"},
		{name: "unannotated gets the default role, exempt from the restriction", mod: func(o *kube2iam.Options) { o.DefaultRole = "kube2iam-app" },
			objs: objs(pod("a", "p", ""), namespace("a", `["kube2iam-other"]`)), wantRole: "kube2iam-app"},
		{name: "no pod with the caller's IP", objs: objs(namespace("a", `["*"]`)), status: 404, text: "pod with specificed IP \"" + podIP + "\" not found\n"},
		{name: "pod on another node", objs: objs(onNode(pod("a", "p", "kube2iam-app"), "node-2"), namespace("a", `["*"]`)),
			status: 404, text: "pod with specificed IP \"" + podIP + "\" not found\n"},
		{name: "finished pod", objs: objs(phase(pod("a", "p", "kube2iam-app"), corev1.PodSucceeded), namespace("a", `["*"]`)),
			status: 404, text: "pod with specificed IP \"" + podIP + "\" not found\n"},
		{name: "two pods with the IP", objs: objs(pod("a", "p", "kube2iam-app"), pod("a", "q", "kube2iam-app"), namespace("a", `["*"]`)),
			status: 404, text: "2 pods ([p q]) with the ip " + podIP + " indexed\n"},
	}
	w := newWorld(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := w.proxy(t, tc.mod, tc.objs...)
			creds, err := sdkRetrieve(srv.URL)
			code, body := get(t, srv.URL+"/latest/meta-data/iam/security-credentials/")
			if tc.wantRole != "" {
				require.NoError(t, err)
				require.Equal(t, 200, code)
				require.Equal(t, tc.wantRole, body)
				require.Equal(t, "arn:aws:sts::"+account+":assumed-role/"+tc.wantRole+"/"+sessionFor(tc.wantRole), callerARN(t, w, creds))
				return
			}
			require.Error(t, err, "the SDK must get no credentials")
			require.Equal(t, tc.status, code)
			require.Equal(t, tc.text, body)
			if tc.roleStatus == 0 {
				tc.roleStatus, tc.roleText = tc.status, tc.text
			}
			code, body = get(t, srv.URL+"/latest/meta-data/iam/security-credentials/kube2iam-app")
			require.Equal(t, tc.roleStatus, code, "the role path refuses too")
			require.Equal(t, tc.roleText, body)
		})
	}
}

func objs(o ...runtime.Object) []runtime.Object { return o }

// withRole sets p's role annotation, even to "".
func withRole(p *corev1.Pod, role string) *corev1.Pod {
	p.Annotations = map[string]string{kube2iam.DefaultRoleKey: role}
	return p
}

func onNode(p *corev1.Pod, node string) *corev1.Pod { p.Spec.NodeName = node; return p }

func phase(p *corev1.Pod, ph corev1.PodPhase) *corev1.Pod { p.Status.Phase = ph; return p }

// sessionFor is upstream's session name for the test pod: FNV-32a of its IP, "-", the role.
func sessionFor(role string) string { return "8a3d11e-" + role }

// TestRolePathRules: the role path serves only the pod's own role, and STS
// decides whether the node may assume it.
func TestRolePathRules(t *testing.T) {
	w := newWorld(t, nil)
	srv := w.proxy(t, func(o *kube2iam.Options) { o.NamespaceRestriction = false },
		pod("a", "p", "kube2iam-app"))
	code, body := get(t, srv.URL+"/latest/meta-data/iam/security-credentials/kube2iam-other")
	require.Equal(t, http.StatusForbidden, code)
	require.Equal(t, "Invalid role kube2iam-other\n", body)
	code, body = get(t, srv.URL+"/2021-01-03/meta-data/iam/security-credentials/"+appRole)
	require.Equal(t, http.StatusOK, code, "any version, name or ARN")
	require.Contains(t, body, `"Code":"Success"`)
	require.Contains(t, body, `"Type":"AWS-HMAC"`)

	// A role the node may not assume: the identity policy allows only
	// kube2iam-*, and irsa-app trusts web identities only.
	srv = w.proxy(t, func(o *kube2iam.Options) { o.NamespaceRestriction = false }, pod("a", "p", "irsa-app"))
	_, err := sdkRetrieve(srv.URL)
	require.Error(t, err)
	code, body = get(t, srv.URL+"/latest/meta-data/iam/security-credentials/irsa-app")
	require.Equal(t, http.StatusInternalServerError, code)
	require.Contains(t, body, "AccessDenied")
	ds := w.iam.Decisions(awsiam.DecisionFilter{Action: "sts:AssumeRole", Resource: base + "irsa-app"})
	require.NotEmpty(t, ds)
	require.NotEqual(t, "Allow", string(ds[len(ds)-1].Effect))
}

// TestCredentialsCachedPerRole: as upstream, a role's session is cached by
// role ARN for the session TTL, so a second pod with the same role gets the
// first pod's session.
func TestCredentialsCachedPerRole(t *testing.T) {
	w := newWorld(t, nil)
	srv := w.proxy(t, func(o *kube2iam.Options) { o.NamespaceRestriction = false }, pod("a", "p", "kube2iam-app"))
	c1, err := sdkRetrieve(srv.URL)
	require.NoError(t, err)
	c2, err := sdkRetrieve(srv.URL)
	require.NoError(t, err)
	require.Equal(t, c1.AccessKeyID, c2.AccessKeyID)
	require.WithinDuration(t, time.Now().Add(30*time.Minute), c1.Expires, time.Minute, "DurationSeconds is twice the 15 minute TTL")
}

// TestPassThrough: other paths, the IMDSv2 token PUT among them, reach the
// node's metadata from the node, one hop whatever the caller claims. As
// upstream, an IMDSv2 request goes without the caller's address in
// X-Forwarded-For (IMDS refuses a token request naming a client) but with
// whatever X-Forwarded-For the caller sent itself.
func TestPassThrough(t *testing.T) {
	w := newWorld(t, nil)
	srv := w.proxy(t, nil, pod("a", "p", "kube2iam-app"), namespace("a", `["*"]`))
	put := func(xff string) (int, string) {
		req, err := http.NewRequest(http.MethodPut, srv.URL+"/latest/api/token", nil)
		require.NoError(t, err)
		req.Header.Set(awsimds.TTLHeader, "60")
		req.Header.Set(awsimds.HopsHeader, "3")
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, tok := put("")
	require.Equal(t, http.StatusOK, code, tok)
	code, _ = put("10.244.0.9")
	require.Equal(t, http.StatusForbidden, code, "the caller's own X-Forwarded-For reaches IMDS")

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/latest/meta-data/instance-id", nil)
	require.NoError(t, err)
	req.Header.Set(awsimds.TokenHeader, tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	id, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "i-0node", string(id))

	code, _ = get(t, srv.URL+"/latest/meta-data/instance-id")
	require.Equal(t, http.StatusUnauthorized, code, "IMDSv1 is refused by the node (HttpTokens=required), through the proxy too")
	req, err = http.NewRequest(http.MethodGet, srv.URL+"/latest/meta-data/nothing-here", nil)
	require.NoError(t, err)
	req.Header.Set(awsimds.TokenHeader, tok)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestHealthz reads the instance ID with the SDK's IMDS client, as
// upstream since jtblin/kube2iam#344, so it works on HttpTokens=required
// nodes, and fails with upstream's text when IMDS does.
func TestHealthz(t *testing.T) {
	for _, requireV2 := range []bool{true, false} {
		w := newWorld(t, func(o *awsimds.Options) { o.RequireV2 = requireV2 })
		code, body := get(t, w.proxy(t, nil).URL+"/healthz")
		require.Equal(t, http.StatusOK, code)
		require.JSONEq(t, `{"hostIP":"10.0.0.10","instanceId":"i-0node"}`, body)
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }))
	t.Cleanup(down.Close)
	w := newWorld(t, nil)
	srv := w.proxy(t, func(o *kube2iam.Options) { o.MetadataURL = down.URL })
	code, body := get(t, srv.URL+"/healthz")
	require.Equal(t, http.StatusInternalServerError, code)
	require.True(t, strings.HasPrefix(body, "Error getting instance id EC2 Metadata [operation error ec2imds: GetMetadata"), body)
	require.True(t, strings.HasSuffix(body, "] response error, got instance-id\n"), body)
}

func TestOptionsValidation(t *testing.T) {
	cs := fake.NewSimpleClientset()
	for _, o := range []kube2iam.Options{
		{},
		{Client: cs, BaseRoleARN: "arn:aws:s3:::bucket"},
		{Client: cs, MetadataURL: "::"},
	} {
		_, err := kube2iam.New(o)
		require.Error(t, err, "%+v", o)
	}
	_, err := kube2iam.New(kube2iam.Options{Client: cs, BaseRoleARN: "arn:aws:iam::123456789012:role", NamespaceRestrictionFormat: "REGEXP"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(base, "arn:aws:iam::"))
}
