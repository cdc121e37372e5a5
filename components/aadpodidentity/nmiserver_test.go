package aadpodidentity

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeCluster holds pods by IP and the assigned identities; assigned
// changes after `after` calls (MIC catching up).
type fakeCluster struct {
	pods       map[string]PodInfo
	assigned   []AzureAssignedIdentity
	later      []AzureAssignedIdentity
	after      int
	calls      int
	exceptions []AzurePodIdentityException
}

func (c *fakeCluster) PodByIP(_ context.Context, ip string) (PodInfo, error) {
	p, ok := c.pods[ip]
	if !ok {
		return PodInfo{}, errors.New("pod list is empty")
	}
	return p, nil
}

func (c *fakeCluster) AssignedIdentities(context.Context) ([]AzureAssignedIdentity, error) {
	c.calls++
	if c.later != nil && c.calls > c.after {
		return c.later, nil
	}
	return c.assigned, nil
}

func (c *fakeCluster) Exceptions(context.Context, string) ([]AzurePodIdentityException, error) {
	return c.exceptions, nil
}

// fakeIMDS mints "token-of-CLIENT" and knows only the identities in ok.
type fakeIMDS struct {
	ok    map[string]bool
	asked []string
}

func (m *fakeIMDS) Token(_ context.Context, clientID, resource string) (MSIToken, error) {
	m.asked = append(m.asked, clientID)
	if !m.ok[clientID] {
		return MSIToken{}, errors.New(`adal: Refresh request failed. Status Code = '400'. Response body: {"error":"invalid_request","error_description":"Identity not found"}`)
	}
	return MSIToken{AccessToken: "token-of-" + clientID, ExpiresIn: "86399", ExpiresOn: "1781515645", NotBefore: "1781429245", Resource: resource, Type: "Bearer"}, nil
}

func TestNMI(t *testing.T) {
	reader := identity("idlab-aadpodid", "reader", readerClient, false)
	strict := identity("idlab-aadpodid", "strict", readerClient, true)
	pods := map[string]PodInfo{
		"10.244.0.10": {Namespace: "idlab-aadpodid", Name: "app", Labels: map[string]string{BindingLabel: "reader"}},
		"10.244.0.11": {Namespace: "idlab-aadpodid", Name: "unbound"},
		"10.244.0.12": {Namespace: "other", Name: "copycat", Labels: map[string]string{BindingLabel: "reader"}},
		"10.244.0.13": {Namespace: "kube-system", Name: "mic-7d9f-x", ReplicaSet: "mic-7d9f"},
		"10.244.0.14": {Namespace: "idlab-aadpodid", Name: "excepted", Labels: map[string]string{"app": "node-tool"}},
		"10.244.0.15": {Namespace: "idlab-aadpodid", Name: "mic-7d9f-x", ReplicaSet: "mic-7d9f"},
	}
	q := "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com%2F"
	rt := Retry{AttemptsForCreated: 2, AttemptsForAssigned: 1, IntervalSeconds: 1}
	tests := []struct {
		name, ip, path string
		noHeader       bool
		assigned       []AzureAssignedIdentity
		later          []AzureAssignedIdentity
		force          bool
		status         int
		body, ctype    string
		sleeps         int
		asked          []string
	}{
		{name: "bound pod", ip: "10.244.0.10", path: q, assigned: []AzureAssignedIdentity{assigned("idlab-aadpodid", "app", reader, AssignedIDAssigned)},
			status: 200, ctype: "application/json", asked: []string{readerClient},
			body: `{"access_token":"token-of-` + readerClient + `","refresh_token":"","expires_in":"86399","expires_on":"1781515645","not_before":"1781429245","resource":"https://storage.azure.com/","token_type":"Bearer"}`},
		{name: "bound pod, MIC assigns on the second attempt", ip: "10.244.0.10", path: q, assigned: []AzureAssignedIdentity{assigned("idlab-aadpodid", "app", reader, AssignedIDCreated)},
			later: []AzureAssignedIdentity{assigned("idlab-aadpodid", "app", reader, AssignedIDAssigned)}, status: 200, sleeps: 1, asked: []string{readerClient}},
		{name: "unbound pod: refusal after the retries", ip: "10.244.0.11", path: q, status: 404, sleeps: 2, ctype: "text/plain; charset=utf-8",
			body: "getting assigned identities for pod idlab-aadpodid/unbound in CREATED state failed after 2 attempts, retry duration [1]s, error: <nil>. Check MIC pod logs for identity assignment errors\n"},
		{name: "stuck in Created", ip: "10.244.0.10", path: q, assigned: []AzureAssignedIdentity{assigned("idlab-aadpodid", "app", reader, AssignedIDCreated)}, status: 404, sleeps: 3,
			body: "getting assigned identities for pod idlab-aadpodid/app in ASSIGNED state failed after 3 attempts, retry duration [1]s, error: <nil>. Check MIC pod logs for identity assignment errors\n"},
		{name: "copied label in another namespace", ip: "10.244.0.12", path: q, assigned: []AzureAssignedIdentity{assigned("other", "copycat", reader, AssignedIDAssigned)},
			status: 200, asked: []string{readerClient}},
		{name: "namespaced identity assigned across namespaces", ip: "10.244.0.12", path: q, assigned: []AzureAssignedIdentity{assigned("other", "copycat", strict, AssignedIDAssigned)},
			status: 500, body: "runtime error: index out of range [0] with length 0\n"},
		{name: "no metadata header", ip: "10.244.0.10", path: q, noHeader: true, status: 400, ctype: "application/json; charset=utf-8",
			body: `{"error":"invalid_request","error_description":"Required metadata header not specified"}` + "\n"},
		{name: "no resource", ip: "10.244.0.10", path: "/metadata/identity/oauth2/token?api-version=2018-02-01", status: 400, body: "parameter resource cannot be empty\n"},
		{name: "unknown caller", ip: "10.244.0.99", path: q, status: 500, body: "pod list is empty\n"},
		{name: "MIC gets the node's identity", ip: "10.244.0.13", path: q + "&client_id=kubelet", status: 200, asked: []string{"kubelet"}},
		{name: "MIC asking for one the node lacks", ip: "10.244.0.13", path: q + "&client_id=nope", status: 403, asked: []string{"nope"},
			body: "failed to get service principal token, error: adal: Refresh request failed. Status Code = '400'. Response body: {\"error\":\"invalid_request\",\"error_description\":\"Identity not found\"}\n"},
		// A ReplicaSet named mic outside the MIC namespace is no MIC.
		{name: "mic look-alike in another namespace", ip: "10.244.0.15", path: q + "&client_id=kubelet", status: 404, sleeps: 2,
			body: "clientID in request: kubelet, getting assigned identities for pod idlab-aadpodid/mic-7d9f-x in CREATED state failed after 2 attempts, retry duration [1]s, error: <nil>. Check MIC pod logs for identity assignment errors\n"},
		{name: "exception pod", ip: "10.244.0.14", path: q + "&client_id=kubelet", status: 200, asked: []string{"kubelet"}},
		{name: "invalid token path", ip: "10.244.0.10", path: "/metadata/identity/oauth2x/token", status: 400, body: "Invalid request\n"},
		{name: "upper-case metadata segment", ip: "10.244.0.10", path: "/METADATA" + strings.TrimPrefix(q, "/metadata"), assigned: []AzureAssignedIdentity{assigned("idlab-aadpodid", "app", reader, AssignedIDAssigned)},
			status: 200, asked: []string{readerClient}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeCluster{pods: pods, assigned: tc.assigned, later: tc.later, after: 1,
				exceptions: []AzurePodIdentityException{{Spec: AzurePodIdentityExceptionSpec{PodLabels: map[string]string{"app": "node-tool"}}}}}
			m := &fakeIMDS{ok: map[string]bool{readerClient: true, "kubelet": true}}
			sleeps := 0
			n, err := NewNMI(NMIOptions{Cluster: c, Tokens: m, MICNamespace: "kube-system", MetadataHeaderRequired: true, ForceNamespaced: tc.force, Retry: rt,
				Sleep: func(context.Context, time.Duration) error { sleeps++; return nil }})
			require.NoError(t, err)
			req := httptest.NewRequest("GET", "http://169.254.169.254"+tc.path, nil)
			req.RemoteAddr = tc.ip + ":43210"
			if !tc.noHeader {
				req.Header.Set("Metadata", "true")
			}
			rec := httptest.NewRecorder()
			n.ServeHTTP(rec, req)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.body != "" {
				require.Equal(t, tc.body, rec.Body.String())
			}
			if tc.ctype != "" {
				require.Equal(t, tc.ctype, rec.Header().Get("Content-Type"))
			}
			require.Equal(t, tc.sleeps, sleeps)
			require.Equal(t, tc.asked, m.asked)
		})
	}
}

func TestNMIHostToken(t *testing.T) {
	reader := identity("idlab-aadpodid", "reader", readerClient, false)
	c := &fakeCluster{assigned: []AzureAssignedIdentity{assigned("idlab-aadpodid", "app", reader, AssignedIDAssigned)}}
	n, err := NewNMI(NMIOptions{Cluster: c, Tokens: &fakeIMDS{ok: map[string]bool{readerClient: true}}, Retry: Retry{AttemptsForCreated: 1}})
	require.NoError(t, err)
	for _, tc := range []struct {
		remote string
		podns  string
		status int
		body   string
	}{
		{remote: "127.0.0.1:5000", podns: "idlab-aadpodid", status: 200},
		{remote: "10.244.0.10:5000", podns: "idlab-aadpodid", status: 500, body: "request remote address is not from a host\n"},
		{remote: "127.0.0.1:5000", status: 400, body: "missing 'podname' and 'podns' from request header\n"},
	} {
		req := httptest.NewRequest("GET", "http://127.0.0.1:2579/host/token/?resource=https://storage.azure.com/", nil)
		req.RemoteAddr = tc.remote
		req.Header.Set("podname", "app")
		req.Header.Set("podns", tc.podns)
		rec := httptest.NewRecorder()
		n.ServeHTTP(rec, req)
		require.Equal(t, tc.status, rec.Code, rec.Body.String())
		if tc.body != "" {
			require.Equal(t, tc.body, rec.Body.String())
		} else {
			require.Contains(t, rec.Body.String(), `"clientid":"`+readerClient+`"`)
		}
	}
}

func TestNMIProxiesOtherPaths(t *testing.T) {
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.Header.Get("Metadata")+" "+r.URL.RequestURI())
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("imds"))
	}))
	defer imds.Close()
	for _, block := range []bool{false, true} {
		n, err := NewNMI(NMIOptions{Cluster: &fakeCluster{}, Tokens: &fakeIMDS{}, MetadataURL: imds.URL, MetadataHeaderRequired: true, BlockInstanceMetadata: block})
		require.NoError(t, err)
		req := httptest.NewRequest("GET", "http://169.254.169.254/metadata/instance?api-version=2021-02-01", nil)
		req.Header.Set("Metadata", "true")
		rec := httptest.NewRecorder()
		n.ServeHTTP(rec, req)
		if block {
			require.Equal(t, http.StatusForbidden, rec.Code)
			require.Equal(t, "Request blocked by AAD Pod Identity NMI\n", rec.Body.String())
			continue
		}
		require.Equal(t, http.StatusTeapot, rec.Code)
		require.Equal(t, "true /metadata/instance?api-version=2021-02-01", rec.Header().Get("X-Seen"))
	}
}

func TestListStepClientID(t *testing.T) {
	reader := identity("ns", "reader", readerClient, false)
	rt := Retry{AttemptsForCreated: 2, AttemptsForAssigned: 2, IntervalSeconds: 5}
	states := map[string][]AzureIdentity{AssignedIDCreated: {reader}}
	_, done, _ := ListStep("ns", "p", states, 5, strings.ToUpper(readerClient), "", rt)
	require.False(t, done, "a requested identity in Created keeps NMI waiting")
	ids, done, err := ListStep("ns", "p", map[string][]AzureIdentity{AssignedIDAssigned: {reader}}, 0, "", readerRID, rt)
	require.True(t, done)
	require.NoError(t, err)
	require.Len(t, ids, 1)
	_, done, err = ListStep("ns", "p", map[string][]AzureIdentity{}, 1, readerClient, "", rt)
	require.False(t, done, "before AttemptsForCreated")
	require.NoError(t, err)
	_, done, err = ListStep("ns", "p", map[string][]AzureIdentity{"": {reader}}, 0, "", "", rt)
	require.True(t, done)
	require.NoError(t, err, "an identity an old MIC wrote without a state is usable")
}

func TestRouteOf(t *testing.T) {
	for path, want := range map[string]Route{
		"/metadata/identity/oauth2/token":        RouteToken,
		"/Metadata/identity/oauth2/token/":       RouteToken,
		"/metadata/identity/oauth2/tokenx":       RouteToken,
		"/metadata/identity/oauth2/TOKEN":        RouteProxy,
		"/metadata/identity//oauth2/token":       RouteInvalidToken,
		"/x/metadata/identity/foo/oauth2/token":  RouteInvalidToken,
		"/host/token":                            RouteHostToken,
		"/metadata/instance/compute":             RouteBlockedInstance,
		"/metadata/scheduledevents":              RouteProxy,
		"/":                                      RouteProxy,
		"/metadata/identity/oauth2/authorize":    RouteProxy,
		"/METADATA/instance?api-version=2021-01": RouteBlockedInstance,
		"/metadata/INSTANCE":                     RouteProxy,
	} {
		require.Equal(t, want, RouteOf(path, true), path)
	}
	require.Equal(t, RouteProxy, RouteOf("/metadata/instance", false))
}

func FuzzRouteOf(f *testing.F) {
	for _, s := range []string{"/metadata/identity/oauth2/token", "/host/token", "/metadata/instance", "/%2e", "/metadata/identity/x/oauth2/y/token"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		r := RouteOf(path, true)
		if strings.HasPrefix(strings.ToLower(path), "/metadata/identity/oauth2/token") {
			require.Equal(t, RouteToken, r)
		}
		if r == RouteToken {
			require.True(t, strings.HasPrefix(strings.ToLower(path), "/metadata/identity/oauth2/token"))
		}
	})
}

func FuzzParseMSIToken(f *testing.F) {
	for _, s := range []string{`{"access_token":"a","expires_in":"86399","expires_on":1781515645,"resource":"r","token_type":"Bearer"}`, `{}`, `[`, `{"access_token":1}`, `{"access_token":"a","expires_in":{}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		tok, err := ParseMSIToken([]byte(body))
		if err == nil {
			require.NotEmpty(t, tok.AccessToken)
		}
	})
}
