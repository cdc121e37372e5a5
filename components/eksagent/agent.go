package eksagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The agent's link-local addresses (upstream configuration).
const (
	IPv4Address = "169.254.170.23"
	IPv6Address = "fd00:ec2::23"
	// Port is where the agent listens on those addresses.
	Port = 80
	// CredentialsPath is the one path the agent serves credentials on.
	CredentialsPath = "/v1/credentials"
)

// Defaults of Options (upstream's server flags).
const (
	DefaultCredentialRenewal = 3 * time.Hour
	DefaultMaxCacheSize      = 2000
	// minCredentialTTL: credentials closer than this to expiry are not
	// served from the cache (upstream defaultMinCredentialTtl).
	minCredentialTTL = 15 * time.Second
)

// Options configure an Agent.
type Options struct {
	// ClusterName is the EKS cluster the node belongs to (--cluster-name).
	// Required.
	ClusterName string
	// Region is the cluster's region, for the endpoint and the signature.
	// Defaults to us-west-2.
	Region string
	// Endpoint is EKS Auth's base URL (upstream's --endpoint). Defaults to
	// https://eks-auth.REGION.api.aws.
	Endpoint string
	// Credentials are the node's. Required.
	Credentials CredentialsProvider
	// HTTPClient calls EKS Auth. Defaults to a client with upstream's
	// 1 s request timeout.
	HTTPClient *http.Client
	// TargetHosts are the addresses callers must have used (the request's
	// Host). Defaults to IPv4Address and IPv6Address.
	TargetHosts []string
	// CredentialRenewal is the longest credentials are served from the
	// cache. Defaults to DefaultCredentialRenewal.
	CredentialRenewal time.Duration
	// MaxCacheSize bounds the cached pods. Defaults to DefaultMaxCacheSize.
	MaxCacheSize int
	// DisableCache sends every request to EKS Auth (upstream: renewal or
	// size 0).
	DisableCache bool
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger gets one line per request. Defaults to discard.
	Logger *slog.Logger
}

// ErrNoCluster and ErrNoCredentials are returned by New for missing options.
var (
	ErrNoCluster     = errors.New("eksagent: Options.ClusterName is required")
	ErrNoCredentials = errors.New("eksagent: Options.Credentials is required")
)

func (o Options) normalize() (Options, error) {
	if o.ClusterName == "" {
		return o, ErrNoCluster
	}
	if o.Credentials == nil {
		return o, ErrNoCredentials
	}
	if o.Region == "" {
		o.Region = "us-west-2"
	}
	if o.Endpoint == "" {
		o.Endpoint = "https://eks-auth." + o.Region + ".api.aws"
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: time.Second}
	}
	if len(o.TargetHosts) == 0 {
		o.TargetHosts = []string{IPv4Address, IPv6Address}
	}
	if o.CredentialRenewal <= 0 {
		o.CredentialRenewal = DefaultCredentialRenewal
	}
	if o.MaxCacheSize <= 0 {
		o.MaxCacheSize = DefaultMaxCacheSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Agent is the pod identity agent's credentials handler: an http.Handler
// for /v1/credentials (and GET /healthz for the DaemonSet's probe).
type Agent struct {
	opts  Options
	log   *slog.Logger
	mux   *http.ServeMux
	cache *credCache
}

// New returns the agent.
func New(opts Options) (*Agent, error) {
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	a := &Agent{opts: opts, log: opts.Logger, cache: newCredCache(opts.MaxCacheSize)}
	a.mux = http.NewServeMux()
	a.mux.HandleFunc(CredentialsPath, a.serveCredentials)
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
	return a, nil
}

// ServeHTTP serves /v1/credentials and /healthz.
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// serveCredentials is upstream's HandleRequest.
func (a *Agent) serveCredentials(w http.ResponseWriter, r *http.Request) {
	token := r.Header.Get("Authorization")
	creds, assoc, cached, err := a.credentials(r.Context(), r.Host, token)
	if err != nil {
		msg, status := errorResponse(err)
		a.log.Info("pod identity agent deny", "decision", "Deny", "status", status, "remote", r.RemoteAddr,
			"action", "eks-auth:AssumeRoleForPodIdentity", "resource", a.opts.ClusterName, "reason", msg)
		http.Error(w, msg, status)
		return
	}
	raw, err := json.Marshal(creds)
	if err != nil {
		http.Error(w, "Unable to serialize credentials", http.StatusInternalServerError)
		return
	}
	a.log.Info("pod identity agent allow", "decision", "Allow", "remote", r.RemoteAddr, "action", "eks-auth:AssumeRoleForPodIdentity",
		"resource", a.opts.ClusterName, "association", assoc, "cached", cached, "access_key", creds.AccessKeyID)
	w.Header().Add("Content-Type", "application/json")
	_, _ = w.Write(raw)
}

// credentials validates the request and answers from the cache or EKS Auth.
func (a *Agent) credentials(ctx context.Context, host, token string) (*Response, string, bool, error) {
	now := a.opts.Now()
	if err := a.validateRequest(host, token, now); err != nil {
		return nil, "", false, err
	}
	if a.opts.DisableCache {
		// Upstream without its cache: EKS Auth's answer as it is.
		creds, assoc, err := a.assumeRoleForPodIdentity(ctx, token)
		if err != nil {
			return nil, "", false, fmt.Errorf("unable to fetch credentials from EKS Auth: %w", err)
		}
		return creds, assoc, false, nil
	}
	uid, err := podUID(token)
	if err != nil {
		return nil, "", false, err
	}
	if e, ok := a.cache.get(uid); ok && e.token == token && now.Before(e.refreshAt) && e.creds.Expiration.Sub(now) > minCredentialTTL {
		return e.creds, e.association, true, nil
	}
	creds, assoc, err := a.assumeRoleForPodIdentity(ctx, token)
	if err != nil {
		return nil, "", false, fmt.Errorf("error getting credentials to cache: unable to fetch credentials from EKS Auth: %w", err)
	}
	ttl := creds.Expiration.Sub(now)
	if ttl <= minCredentialTTL {
		return nil, "", false, fmt.Errorf("fetched credentials are expired or will expire within the next %0.2f seconds", ttl.Seconds())
	}
	a.cache.put(uid, cacheEntry{token: token, creds: creds, association: assoc, refreshAt: now.Add(min(ttl, a.opts.CredentialRenewal))})
	return creds, assoc, false, nil
}

// validateRequest is upstream's ValidateEksCredentialRequest: the address
// the caller used, then the token.
func (a *Agent) validateRequest(host, token string, now time.Time) error {
	if err := a.validateHost(host); err != nil {
		return err
	}
	return validateToken(token, now)
}

// validateHost is upstream's validateRequestTargetHost: the caller must
// have addressed one of the agent's link-local addresses.
func (a *Agent) validateHost(host string) error {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if slices.Contains(a.opts.TargetHosts, host) {
		return nil
	}
	return &requestError{status: http.StatusForbidden, msg: fmt.Sprintf("Access Denied. Called agent through invalid address, please use either %v address not %s", a.opts.TargetHosts, host)}
}

// errorResponse is upstream's HandleCredentialFetchingError: request
// refusals with their own status; EKS Auth's errors with EKS Auth's status
// and "[REQUEST-ID]: (CODE): MESSAGE, fault: F"; anything else 500.
func errorResponse(err error) (string, int) {
	var re *requestError
	if errors.As(err, &re) {
		return re.msg, re.status
	}
	var se *serviceError
	if errors.As(err, &se) {
		return strings.Join([]string{"[" + se.requestID + "]", fmt.Sprintf("(%s): %s, fault: %s", se.code, se.message, se.fault())}, ": "), se.status
	}
	return err.Error(), http.StatusInternalServerError
}

// cacheEntry is one pod's credentials.
type cacheEntry struct {
	token       string
	creds       *Response
	association string
	refreshAt   time.Time
}

// credCache holds credentials by pod UID, evicting the least recently
// stored beyond its size.
type credCache struct {
	mu    sync.Mutex
	max   int
	m     map[string]cacheEntry
	order []string
}

func newCredCache(max int) *credCache { return &credCache{max: max, m: map[string]cacheEntry{}} }

func (c *credCache) get(uid string) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[uid]
	return e, ok
}

func (c *credCache) put(uid string, e cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[uid]; ok {
		c.order = slices.DeleteFunc(c.order, func(u string) bool { return u == uid })
	}
	c.m[uid] = e
	c.order = append(c.order, uid)
	for len(c.order) > c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
}
