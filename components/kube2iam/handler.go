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
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
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
	imds  *imds.Client // the node's metadata, for /healthz
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
	md := imds.New(imds.Options{Endpoint: opts.MetadataURL, HTTPClient: opts.MetadataClient})
	if opts.NodeCredentials == nil {
		opts.NodeCredentials = ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = md })
	}
	h := &Handler{opts: opts, imds: md, creds: map[string]cachedCreds{}, cache: newInformers(opts.Client, opts.NodeName)}
	// The global endpoint signs for us-east-1, as the SDK does.
	region := "us-east-1"
	if opts.UseRegionalSTS && opts.Region != "" {
		region = opts.Region
	}
	h.sts = sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(opts.STSEndpoint), HTTPClient: opts.STSClient,
		Credentials: aws.NewCredentialsCache(opts.NodeCredentials)})
	h.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			// One hop to IMDS, whatever the caller's distance.
			pr.Out.Header.Del(hopsHeader)
			forwardedFor(pr)
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

// tokenRoute is upstream's IMDSv2 token path: /{version}/api/token.
var tokenRoute = regexp.MustCompile("^/?[^/]+/api/token$")

// forwardedFor sets X-Forwarded-For as upstream's proxy (httputil's
// single-host proxy) sends it: on IMDSv2 requests (the token PUT, a GET
// with a token) only what the caller sent, since IMDS refuses a token
// request that names a client (jtblin/kube2iam#270, #279); on the others
// the caller's header with its address appended.
func forwardedFor(pr *httputil.ProxyRequest) {
	prior := pr.In.Header.Values("X-Forwarded-For")
	in := pr.In
	if (in.Method == http.MethodPut && tokenRoute.MatchString(in.URL.Path)) ||
		(in.Method == http.MethodGet && in.Header.Get("X-aws-ec2-metadata-token") != "") {
		if len(prior) > 0 {
			pr.Out.Header["X-Forwarded-For"] = prior
		}
		return
	}
	ip, _, err := net.SplitHostPort(in.RemoteAddr)
	if err != nil {
		return
	}
	if len(prior) > 0 {
		ip = strings.Join(prior, ", ") + ", " + ip
	}
	pr.Out.Header.Set("X-Forwarded-For", ip)
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
	if name == "" {
		// The role is the base ARN itself (a pod without the annotation and
		// no --default-role, or an empty annotation): an empty list, with
		// which no SDK finds a role, as upstream answers it.
		log.Info("kube2iam decision", "decision", "Deny", "pod", podName(m), "role", m.Role, "status", http.StatusOK, "error", "",
			"reason", "the pod's role is the base role ARN itself (no "+h.opts.RoleKey+" annotation or an empty one, no default role): empty role list")
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
	creds, err := h.assumeRole(r.Context(), m.Role, m.Pod.Annotations[h.opts.ExternalIDKey], ip)
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

// mapOnce is one lookup: the pod with IP ip, then mapPod.
func (h *Handler) mapOnce(ctx context.Context, ip string) (*mapping, *mapError) {
	pod, merr := h.podByIP(ctx, ip)
	if merr != nil {
		return nil, merr
	}
	return h.opts.mapPod(pod, ip, func() (*corev1.Namespace, error) { return h.namespace(ctx, pod.Namespace) })
}

// defaultRoleARN is the default role as upstream's mapper holds it,
// computed even from an empty --default-role: then it is the base ARN.
func (o *Options) defaultRoleARN() string { return roleARN(o.BaseRoleARN, o.DefaultRole) }

// roleFor is upstream's extractRoleARN: the pod's annotated role, else
// defaultARN, as an ARN; false when there is neither.
func (o *Options) roleFor(pod *corev1.Pod, defaultARN string) (string, bool) {
	raw, ok := pod.Annotations[o.RoleKey]
	if !ok {
		if defaultARN == "" {
			return "", false
		}
		raw = defaultARN
	}
	return roleARN(o.BaseRoleARN, raw), true
}

// roleAllowed is upstream's checkRoleForNamespace: anything without
// --namespace-restrictions, the default role always, else what the
// namespace's annotation allows (ns nil when it does not exist).
func (o *Options) roleAllowed(role string, ns func() (*corev1.Namespace, error)) (bool, string, error) {
	if !o.NamespaceRestriction || role == o.defaultRoleARN() {
		return true, "", nil
	}
	n, err := ns()
	if err != nil {
		return false, "", err
	}
	ok, why := o.allowedInNamespace(role, n)
	return ok, why, nil
}

// mapPod is upstream's GetRoleMapping for pod, found at ip: its role
// (roleFor) if its namespace allows it (roleAllowed), ns reading the
// namespace only when needed.
func (o *Options) mapPod(pod *corev1.Pod, ip string, ns func() (*corev1.Namespace, error)) (*mapping, *mapError) {
	m := &mapping{Pod: pod, Namespace: pod.Namespace}
	role, ok := o.roleFor(pod, o.defaultRoleARN())
	if !ok {
		return m, &mapError{Status: http.StatusNotFound, Text: "unable to find role for IP " + pod.Status.PodIP,
			Reason: "pod has no " + o.RoleKey + " annotation and there is neither a default role nor a base role ARN"}
	}
	m.Role = role
	allowed, why, err := o.roleAllowed(role, ns)
	if err != nil {
		return m, &mapError{Status: http.StatusNotFound, Text: err.Error(), Reason: "read namespace"}
	}
	if !allowed {
		return m, &mapError{Status: http.StatusNotFound,
			Text:   fmt.Sprintf("role requested %s not valid for namespace of pod at %s with namespace %s", m.Role, ip, pod.Namespace),
			Reason: why}
	}
	return m, nil
}

// podByIP is the one active pod with IP ip (on NodeName, when set): from
// the cache, or from the API server when the cache has none.
func (h *Handler) podByIP(ctx context.Context, ip string) (*corev1.Pod, *mapError) {
	notFound := &mapError{Status: http.StatusNotFound, Text: fmt.Sprintf("pod with specificed IP %q not found", ip), Reason: "no pod with IP " + ip}
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
// node's credentials for twice the session TTL, passing externalID when
// the pod gives one. As upstream, the cache is keyed by the role alone: a
// pod with another external ID, or none, gets the cached session.
func (h *Handler) assumeRole(ctx context.Context, role, externalID, ip string) (Credentials, error) {
	now := h.opts.Now()
	h.mu.Lock()
	c, ok := h.creds[role]
	h.mu.Unlock()
	if ok && now.Sub(c.fetched) < h.opts.SessionTTL {
		return c.creds, nil
	}
	in := &sts.AssumeRoleInput{
		RoleArn: aws.String(role), RoleSessionName: aws.String(sessionName(role, ip)),
		DurationSeconds: aws.Int32(int32(2 * h.opts.SessionTTL / time.Second)),
	}
	if externalID != "" {
		in.ExternalId = aws.String(externalID)
	}
	out, err := h.sts.AssumeRole(ctx, in)
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

// serveHealth reads the instance ID from the node's metadata with the
// SDK's IMDS client (a token first, IMDSv1 if the token is refused), as
// upstream's healthcheck does since it moved to aws-sdk-go-v2
// (jtblin/kube2iam#344), with upstream's texts on failure.
func (h *Handler) serveHealth(w http.ResponseWriter, r *http.Request) {
	id, err := h.instanceID(r.Context())
	if err != nil {
		msg := fmt.Sprintf("Error getting instance id %+v", err)
		h.opts.Logger.Error(msg)
		http.Error(w, msg, http.StatusInternalServerError)
		return
	}
	w.Header().Add("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(HealthResponse{InstanceID: id, HostIP: h.opts.HostIP})
}

// instanceID is upstream's getMetadataPath for instance-id.
func (h *Handler) instanceID(ctx context.Context) (string, error) {
	const path = "instance-id"
	out, err := h.imds.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		return "", fmt.Errorf("EC2 Metadata [%s] response error, got %v", err, path)
	}
	defer out.Content.Close()
	b, err := io.ReadAll(io.LimitReader(out.Content, 1<<10))
	if err != nil {
		return "", fmt.Errorf("expect to read content [%s] from bytes, got %v", err, path)
	}
	if len(b) == 0 {
		return "", fmt.Errorf("EC2 Metadata didn't returned [%s], got empty string", path)
	}
	return string(b), nil
}
