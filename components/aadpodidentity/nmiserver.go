package aadpodidentity

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// NMI's defaults (cmd/nmi/main.go, e4e7eab): it listens on
// 127.0.0.1:2579, to which its iptables rule sends pods' metadata traffic.
const (
	NMIHost      = "127.0.0.1"
	NMIPort      = 2579
	MetadataIP   = "169.254.169.254"
	MetadataPort = "80"
)

// PodInfo is what NMI knows of the pod behind a source address.
type PodInfo struct {
	Namespace, Name string
	// ReplicaSet is the name of the ReplicaSet owning the pod, if any.
	ReplicaSet string
	Labels     map[string]string
}

// Cluster is NMI's view of the cluster: pods of its node by IP, the
// assigned identities and the exceptions.
type Cluster interface {
	// PodByIP finds the one running or pending pod of the node with ip,
	// with upstream's errors ("pod list is empty", "failed to match pod
	// IP ...").
	PodByIP(ctx context.Context, ip string) (PodInfo, error)
	AssignedIdentities(ctx context.Context) ([]AzureAssignedIdentity, error)
	Exceptions(ctx context.Context, namespace string) ([]AzurePodIdentityException, error)
}

// TokenSource gets tokens of the node's managed identities (IMDS).
type TokenSource interface {
	Token(ctx context.Context, clientID, resource string) (MSIToken, error)
}

// NMIOptions configure the server; upstream's flags.
type NMIOptions struct {
	Cluster Cluster
	Tokens  TokenSource
	// MetadataURL is where the default path proxies to
	// (http://169.254.169.254:80).
	MetadataURL            string
	ForceNamespaced        bool
	MICNamespace           string
	MetadataHeaderRequired bool
	BlockInstanceMetadata  bool
	Retry                  Retry
	// Sleep waits between attempts. Defaults to a timer honouring ctx.
	Sleep  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger
}

// NMI is the Node Managed Identity server: what pods reach at
// 169.254.169.254 through the aad-metadata chain.
type NMI struct {
	o   NMIOptions
	log *slog.Logger
}

// NewNMI returns the server; Cluster and Tokens are required.
func NewNMI(o NMIOptions) (*NMI, error) {
	if o.Cluster == nil || o.Tokens == nil {
		return nil, fmt.Errorf("aadpodidentity: NMI needs Cluster and Tokens")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if o.MetadataURL == "" {
		o.MetadataURL = "http://" + net.JoinHostPort(MetadataIP, MetadataPort)
	}
	return &NMI{o: o, log: o.Logger}, nil
}

// Route is which of NMI's handlers a path reaches.
type Route int

// NMI's routes, in the order its router tries them (server.go Run).
const (
	RouteToken Route = iota
	RouteInvalidToken
	RouteHostToken
	RouteBlockedInstance
	RouteProxy
)

var (
	tokenPrefix       = regexp.MustCompile(`^/(?i:metadata)/identity/oauth2/token`)
	invalidTokenPath  = regexp.MustCompile(`/(?i:metadata)/identity(.*?)oauth2(.*?)token`)
	instancePrefix    = regexp.MustCompile(`^/(?i:metadata)/instance`)
	hostTokenPrefix   = "/host/token"
	contentTypeJSON   = "application/json"
	metadataNotSetErr = map[string]string{"error": "invalid_request", "error_description": "Required metadata header not specified"}
)

// RouteOf is NMI's router (gorilla/mux path prefixes): the token path
// (/metadata in any case) and anything below it; another path naming
// identity, oauth2 and token in that order (invalid); /host/token;
// /metadata/instance when blocked; everything else is proxied to IMDS.
func RouteOf(path string, blockInstance bool) Route {
	switch {
	case tokenPrefix.MatchString(path):
		return RouteToken
	case invalidTokenPath.MatchString(path):
		return RouteInvalidToken
	case strings.HasPrefix(path, hostTokenPrefix):
		return RouteHostToken
	case blockInstance && instancePrefix.MatchString(path):
		return RouteBlockedInstance
	}
	return RouteProxy
}

// ServeHTTP routes as upstream.
func (n *NMI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch RouteOf(r.URL.Path, n.o.BlockInstanceMetadata) {
	case RouteToken:
		n.app(w, r, n.msiHandler)
	case RouteInvalidToken:
		http.Error(w, "Invalid request", http.StatusBadRequest)
	case RouteHostToken:
		n.app(w, r, n.hostHandler)
	case RouteBlockedInstance:
		http.Error(w, "Request blocked by AAD Pod Identity NMI", http.StatusForbidden)
	default:
		n.proxy(w, r)
	}
}

// statusWriter remembers the status for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// app is upstream's appHandler: JSON content type set in advance, one log
// line with the status.
func (n *NMI) app(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request) string) {
	w.Header().Set("Content-Type", contentTypeJSON)
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	start := time.Now()
	ns := h(sw, r)
	decision := "allow"
	if sw.status != http.StatusOK {
		decision = "deny"
	}
	n.log.Info("nmi request", "decision", decision, "status", sw.status, "path", r.URL.Path, "remote", remoteIP(r.RemoteAddr), "namespace", ns,
		"took", time.Since(start).String())
}

// remoteIP is upstream's parseRemoteAddr: the host of host:port when it
// is an IP, else "".
func remoteIP(addr string) string {
	i := strings.IndexByte(addr, ':')
	if i <= 1 {
		return ""
	}
	if net.ParseIP(addr[:i]) == nil {
		return ""
	}
	return addr[:i]
}

// tokenRequest is upstream's parseTokenRequest.
type tokenRequest struct{ clientID, resourceID, resource string }

func parseTokenQuery(r *http.Request) tokenRequest {
	q := r.URL.Query()
	t := tokenRequest{clientID: q.Get("client_id"), resourceID: q.Get("msi_res_id"), resource: q.Get("resource")}
	if t.resourceID == "" {
		t.resourceID = q.Get("mi_res_id")
	}
	return t
}

func writeMetadataNotSpecified(w http.ResponseWriter) {
	b, _ := json.Marshal(metadataNotSetErr)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = fmt.Fprintln(w, string(b))
}

func writeToken(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// isMIC is upstream's isMIC: a pod of the MIC namespace whose ReplicaSet
// name starts with "mic" gets the node's identities unchecked.
func (n *NMI) isMIC(podNS, rsName string) bool {
	return strings.EqualFold(podNS, n.o.MICNamespace) && strings.HasPrefix(rsName, "mic")
}

// msiHandler is upstream's: the caller pod by its address, exceptions and
// MIC straight to IMDS, else its assigned identity with retries.
func (n *NMI) msiHandler(w http.ResponseWriter, r *http.Request) string {
	if n.o.MetadataHeaderRequired && r.Header.Get("Metadata") != "true" {
		writeMetadataNotSpecified(w)
		return ""
	}
	ip := remoteIP(r.RemoteAddr)
	req := parseTokenQuery(r)
	if ip == "" {
		http.Error(w, "request remote address is empty", http.StatusInternalServerError)
		return ""
	}
	if req.resource == "" {
		http.Error(w, "parameter resource cannot be empty", http.StatusBadRequest)
		return ""
	}
	pod, err := n.o.Cluster.PodByIP(r.Context(), ip)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return ""
	}
	exceptions, err := n.o.Cluster.Exceptions(r.Context(), pod.Namespace)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return pod.Namespace
	}
	if Excepted(pod.Labels, exceptions) || n.isMIC(pod.Namespace, pod.ReplicaSet) {
		tok, err := n.o.Tokens.Token(r.Context(), req.clientID, req.resource)
		if err != nil {
			http.Error(w, fmt.Sprintf("failed to get service principal token, error: %+v", err), http.StatusForbidden)
			return pod.Namespace
		}
		n.log.Info("nmi: exception pod token handling", "pod", pod.Namespace+"/"+pod.Name)
		writeToken(w, tok)
		return pod.Namespace
	}
	id, err := n.identity(r.Context(), pod, req)
	if err != nil {
		status := http.StatusNotFound
		if err == ErrIndexOutOfRange {
			status = http.StatusInternalServerError
		}
		n.log.Info("nmi: no identity for pod", "decision", "deny", "pod", pod.Namespace+"/"+pod.Name, "reason", err.Error())
		http.Error(w, err.Error(), status)
		return pod.Namespace
	}
	if id.Spec.Type != UserAssignedMSI {
		http.Error(w, fmt.Sprintf("unsupported identity type %+v", id.Spec.Type), http.StatusForbidden)
		return pod.Namespace
	}
	tok, err := n.o.Tokens.Token(r.Context(), id.Spec.ClientID, req.resource)
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return pod.Namespace
	}
	n.log.Info("nmi: pod matched with azure identity", "decision", "allow", "pod", pod.Namespace+"/"+pod.Name,
		"identity", id.Namespace+"/"+id.Name, "client_id", redact(id.Spec.ClientID), "resource", req.resource)
	writeToken(w, tok)
	return pod.Namespace
}

// identity runs upstream's listPodIDsWithRetry and GetIdentities.
func (n *NMI) identity(ctx context.Context, pod PodInfo, req tokenRequest) (AzureIdentity, error) {
	rt := n.o.Retry
	for attempt := 0; attempt < rt.AttemptsForCreated+rt.AttemptsForAssigned; attempt++ {
		assigned, err := n.o.Cluster.AssignedIdentities(ctx)
		if err == nil {
			ids, done, err := ListStep(pod.Namespace, pod.Name, IdentitiesByState(pod.Namespace, pod.Name, assigned), attempt, req.clientID, req.resourceID, rt)
			if done {
				if err != nil {
					return AzureIdentity{}, err
				}
				return ChooseIdentity(pod.Namespace, ids, req.clientID, req.resourceID, n.o.ForceNamespaced)
			}
		}
		if err := n.o.Sleep(ctx, time.Duration(rt.IntervalSeconds)*time.Second); err != nil {
			return AzureIdentity{}, err
		}
	}
	return AzureIdentity{}, AssignedRefusal(pod.Namespace, pod.Name, rt)
}

// hostHandler is upstream's /host/token: a process of the node names the
// pod in the podns and podname headers.
func (n *NMI) hostHandler(w http.ResponseWriter, r *http.Request) string {
	req := parseTokenQuery(r)
	podNS, podName := r.Header.Get("podns"), r.Header.Get("podname")
	if podNS == "" || podName == "" {
		http.Error(w, "missing 'podname' and 'podns' from request header", http.StatusBadRequest)
		return ""
	}
	if remoteIP(r.RemoteAddr) != NMIHost {
		http.Error(w, "request remote address is not from a host", http.StatusInternalServerError)
		return podNS
	}
	if req.resource == "" {
		http.Error(w, "parameter resource cannot be empty", http.StatusBadRequest)
		return podNS
	}
	id, err := n.identity(r.Context(), PodInfo{Namespace: podNS, Name: podName}, req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return podNS
	}
	tok, err := n.o.Tokens.Token(r.Context(), id.Spec.ClientID, req.resource)
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return podNS
	}
	writeToken(w, struct {
		Token    MSIToken `json:"token"`
		ClientID string   `json:"clientid"`
	}{tok, id.Spec.ClientID})
	return podNS
}

// proxy is upstream's defaultPathHandler: the metadata header check, then
// the request as it came, to IMDS, and IMDS's answer back.
func (n *NMI) proxy(w http.ResponseWriter, r *http.Request) {
	if n.o.MetadataHeaderRequired && r.Header.Get("Metadata") != "true" {
		writeMetadataNotSpecified(w)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, strings.TrimSuffix(n.o.MetadataURL, "/")+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for k, vv := range r.Header {
		for _, v := range vv {
			req.Header.Add(k, v)
		}
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for k, vv := range resp.Header {
		for _, v := range vv {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}
