package kube2iam

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	corev1 "k8s.io/api/core/v1"
)

// hopsHeader is the lab's hop count (awsimds.HopsHeader): the proxy talks
// to IMDS from the node, one hop, so it never forwards a caller's count.
const hopsHeader = "X-Idlab-Hops"

// credsPath is the credentials path after /{version}/.
const credsPath = "meta-data/iam/security-credentials"

// Handler is the proxy of one node. It is safe for concurrent use.
type Handler struct {
	opts  Options
	sts   *sts.Client
	proxy *httputil.ReverseProxy
	cache informers

	mu    sync.Mutex
	creds map[string]cachedCreds // by role ARN, as upstream
}

type cachedCreds struct {
	creds   Credentials
	fetched time.Time
}

// Credentials is the JSON the role path answers, field for field as
// upstream encodes it.
type Credentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	Code            string
	Expiration      string
	LastUpdated     string
	SecretAccessKey string
	Token           string
	Type            string
}

// New validates opts and returns the proxy.
func New(opts Options) (*Handler, error) {
	if err := opts.normalize(); err != nil {
		return nil, fmt.Errorf("kube2iam: %w", err)
	}
	target, err := url.Parse(opts.MetadataURL)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("kube2iam: metadata URL %q: %v", opts.MetadataURL, err)
	}
	if opts.NodeCredentials == nil {
		client := imds.New(imds.Options{Endpoint: opts.MetadataURL, HTTPClient: opts.MetadataClient})
		opts.NodeCredentials = ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client })
	}
	h := &Handler{opts: opts, creds: map[string]cachedCreds{}, cache: newInformers(opts.Client, opts.NodeName)}
	// The global endpoint signs for us-east-1, as the SDK does.
	region := "us-east-1"
	if opts.UseRegionalSTS && opts.Region != "" {
		region = opts.Region
	}
	h.sts = sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(opts.STSEndpoint), HTTPClient: opts.STSClient,
		Credentials: aws.NewCredentialsCache(opts.NodeCredentials)})
	h.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// A new request from the node: no X-Forwarded-For, which IMDS
			// refuses (jtblin/kube2iam#270, #279), and one hop to IMDS.
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Del(hopsHeader)
		},
		Transport: opts.MetadataClient.Transport,
		ErrorLog:  slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	return h, nil
}

// ServeHTTP routes as upstream: the credentials paths, /healthz, and the
// metadata service for the rest.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip := h.opts.RemoteIP(r)
	log := h.opts.Logger.With("method", r.Method, "path", r.URL.Path, "remote_ip", ip)
	if r.URL.Path == "/healthz" {
		h.serveHealth(w, r)
		return
	}
	rest, ok := afterVersion(r.URL.Path)
	switch {
	case ok && (rest == credsPath || rest == credsPath+"/"):
		h.serveRoleName(w, r, ip, log)
	case ok && strings.HasPrefix(rest, credsPath+"/"):
		h.serveRole(w, r, ip, strings.TrimPrefix(rest, credsPath+"/"), log)
	default:
		h.proxy.ServeHTTP(w, r)
		log.Debug("proxied to the node's metadata service")
	}
}

// afterVersion strips the leading /{version}/ (one non-empty segment).
func afterVersion(p string) (string, bool) {
	p, ok := strings.CutPrefix(p, "/")
	if !ok {
		return "", false
	}
	version, rest, ok := strings.Cut(p, "/")
	return rest, ok && version != ""
}

// serveRoleName answers security-credentials/ with the pod's role.
func (h *Handler) serveRoleName(w http.ResponseWriter, r *http.Request, ip string, log *slog.Logger) {
	w.Header().Set("Server", "EC2ws")
	m, merr := h.mapRole(r.Context(), ip)
	if merr != nil {
		h.deny(w, log, m, merr)
		return
	}
	name := m.Role
	if h.opts.BaseRoleARN != "" && strings.HasPrefix(m.Role, h.opts.BaseRoleARN) {
		name = strings.TrimPrefix(m.Role, h.opts.BaseRoleARN)
	}
	_, _ = io.WriteString(w, name)
}

// serveRole answers security-credentials/ROLE for the pod's own role.
func (h *Handler) serveRole(w http.ResponseWriter, r *http.Request, ip, wanted string, log *slog.Logger) {
	w.Header().Set("Server", "EC2ws")
	m, merr := h.mapRole(r.Context(), ip)
	if merr != nil {
		h.deny(w, log, m, merr)
		return
	}
	if want := roleARN(h.opts.BaseRoleARN, wanted); want != m.Role {
		h.deny(w, log, m, &mapError{Status: http.StatusForbidden, Text: "Invalid role " + wanted,
			Reason: "Invalid role: does not match annotated role " + m.Role})
		return
	}
	creds, err := h.assumeRole(r.Context(), m.Role, ip)
	if err != nil {
		h.deny(w, log, m, &mapError{Status: http.StatusInternalServerError, Text: err.Error(), Reason: "sts:AssumeRole with the node's credentials failed"})
		return
	}
	log.Info("kube2iam decision", "decision", "Allow", "pod", podName(m), "role", m.Role, "access_key_id", creds.AccessKeyID)
	if err := json.NewEncoder(w).Encode(creds); err != nil {
		log.Error("write credentials", "err", err)
	}
}

func (h *Handler) deny(w http.ResponseWriter, log *slog.Logger, m *mapping, e *mapError) {
	log.Info("kube2iam decision", "decision", "Deny", "pod", podName(m), "role", roleOf(m), "status", e.Status, "error", e.Text, "reason", e.Reason)
	http.Error(w, e.Text, e.Status)
}

func podName(m *mapping) string {
	if m == nil || m.Pod == nil {
		return ""
	}
	return m.Pod.Namespace + "/" + m.Pod.Name
}

func roleOf(m *mapping) string {
	if m == nil {
		return ""
	}
	return m.Role
}

// mapRole finds the caller's pod and role, retrying with exponential
// backoff as upstream does (a pod's first call may come before its IP or
// annotation reached the proxy). The mapping, if any, is returned with
// the error, for the log.
func (h *Handler) mapRole(ctx context.Context, ip string) (*mapping, *mapError) {
	start := h.opts.Now()
	interval := 500 * time.Millisecond
	for {
		m, merr := h.mapOnce(ctx, ip)
		if merr == nil || h.opts.Now().Add(interval).Sub(start) > h.opts.BackoffMaxElapsed {
			return m, merr
		}
		select {
		case <-ctx.Done():
			return m, merr
		case <-time.After(interval):
		}
		interval = min(time.Duration(float64(interval)*1.5), h.opts.BackoffMaxInterval)
	}
}

// mapOnce is one lookup: the pod with IP ip, its role (annotation or
// default) and, with the restriction on, its namespace's allowed roles.
func (h *Handler) mapOnce(ctx context.Context, ip string) (*mapping, *mapError) {
	pod, merr := h.podByIP(ctx, ip)
	if merr != nil {
		return nil, merr
	}
	m := &mapping{Pod: pod, Namespace: pod.Namespace}
	raw, ok := pod.Annotations[h.opts.RoleKey]
	if !ok {
		if h.opts.DefaultRole == "" {
			return m, &mapError{Status: http.StatusNotFound, Text: "unable to find role for IP " + pod.Status.PodIP,
				Reason: "pod has no " + h.opts.RoleKey + " annotation and there is no default role"}
		}
		raw = h.opts.DefaultRole
	}
	m.Role = roleARN(h.opts.BaseRoleARN, raw)
	if !h.opts.NamespaceRestriction || (h.opts.DefaultRole != "" && m.Role == roleARN(h.opts.BaseRoleARN, h.opts.DefaultRole)) {
		return m, nil
	}
	ns, err := h.namespace(ctx, pod.Namespace)
	if err != nil {
		return m, &mapError{Status: http.StatusNotFound, Text: err.Error(), Reason: "read namespace"}
	}
	if ok, why := h.opts.allowedInNamespace(m.Role, ns); !ok {
		return m, &mapError{Status: http.StatusNotFound,
			Text:   fmt.Sprintf("role requested %s not valid for namespace of pod at %s with namespace %s", m.Role, ip, pod.Namespace),
			Reason: why}
	}
	return m, nil
}

// podByIP is the one active pod with IP ip (on NodeName, when set): from
// the cache, or from the API server when the cache has none.
func (h *Handler) podByIP(ctx context.Context, ip string) (*corev1.Pod, *mapError) {
	notFound := &mapError{Status: http.StatusNotFound, Text: "Pod with specificed IP not found", Reason: "no pod with IP " + ip}
	if ip == "" {
		return nil, notFound
	}
	pods := h.callers(h.cachedPods(ip), ip)
	if len(pods) == 0 {
		live, err := h.livePods(ctx, ip)
		if err != nil {
			return nil, &mapError{Status: http.StatusNotFound, Text: err.Error(), Reason: "list pods"}
		}
		if pods = h.callers(live, ip); len(pods) > 0 {
			h.opts.Logger.Info("pod not in the cache yet, found with the API", "remote_ip", ip, "pod", pods[0].Namespace+"/"+pods[0].Name)
		}
	}
	switch len(pods) {
	case 0:
		return nil, notFound
	case 1:
		return pods[0], nil
	}
	names := make([]string, len(pods))
	for i, p := range pods {
		names[i] = p.Name
	}
	// hostNetwork pods share the node's address.
	return nil, &mapError{Status: http.StatusNotFound, Text: fmt.Sprintf("%d pods (%v) with the ip %s indexed", len(pods), names, ip),
		Reason: "several pods have this IP"}
}

// callers keeps the pods that may be the caller at ip: active, with that
// IP and on NodeName, sorted by namespace and name (the cache's index has
// no order; the refusal names them). The cache and the API apply these
// filters already; filtering again costs little and holds where a field
// selector is not applied (the fake clientset).
func (h *Handler) callers(pods []*corev1.Pod, ip string) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if active(p) && p.Status.PodIP == ip && (h.opts.NodeName == "" || p.Spec.NodeName == h.opts.NodeName) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// sessionName is upstream's HASH(ip)-ROLE, cut at 64 characters.
func sessionName(role, ip string) string {
	f := fnv.New32a()
	_, _ = f.Write([]byte(ip))
	name := fmt.Sprintf("%x-%s", f.Sum32(), role[strings.LastIndex(role, "/")+1:])
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// assumeRole returns the role's cached credentials, or assumes it with the
// node's credentials for twice the session TTL.
func (h *Handler) assumeRole(ctx context.Context, role, ip string) (Credentials, error) {
	now := h.opts.Now()
	h.mu.Lock()
	c, ok := h.creds[role]
	h.mu.Unlock()
	if ok && now.Sub(c.fetched) < h.opts.SessionTTL {
		return c.creds, nil
	}
	out, err := h.sts.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(role), RoleSessionName: aws.String(sessionName(role, ip)),
		DurationSeconds: aws.Int32(int32(2 * h.opts.SessionTTL / time.Second)),
	})
	if err != nil {
		return Credentials{}, err
	}
	if out.Credentials == nil {
		return Credentials{}, errors.New("AssumeRole returned no credentials")
	}
	creds := Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), Code: "Success",
		Expiration: aws.ToTime(out.Credentials.Expiration).UTC().Format(timeFormat), LastUpdated: now.UTC().Format(timeFormat),
		SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey), Token: aws.ToString(out.Credentials.SessionToken), Type: "AWS-HMAC"}
	h.mu.Lock()
	h.creds[role] = cachedCreds{creds: creds, fetched: now}
	h.mu.Unlock()
	return creds, nil
}

const timeFormat = "2006-01-02T15:04:05Z"

// HealthResponse is /healthz's JSON.
type HealthResponse struct {
	HostIP     string `json:"hostIP"`
	InstanceID string `json:"instanceId"`
}

// serveHealth reads the instance ID with a plain (IMDSv1) GET, as upstream.
func (h *Handler) serveHealth(w http.ResponseWriter, r *http.Request) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, h.opts.MetadataURL+"/latest/meta-data/instance-id", nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp, err := h.opts.MetadataClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg := "Error getting instance id, got status: " + resp.Status
		h.opts.Logger.Error(msg)
		http.Error(w, msg, http.StatusInternalServerError)
		return
	}
	id, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Add("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(HealthResponse{InstanceID: string(id), HostIP: h.opts.HostIP})
}
