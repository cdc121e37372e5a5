package gkemetadata

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
)

// Handler is one node's GKE metadata server (an http.Handler).
type Handler struct {
	opts  Options
	api   *apiCache // pods and KSAs; Start fills it
	cache tokenCache
}

// New checks opts and returns the handler. Its caches of pods and KSAs
// fill once Start runs; until then token and account requests wait.
func New(opts Options) (*Handler, error) {
	if err := opts.normalize(); err != nil {
		return nil, fmt.Errorf("gkemetadata: %w", err)
	}
	api, err := newAPICache(opts.Client, opts.NodeName)
	if err != nil {
		return nil, fmt.Errorf("gkemetadata: %w", err)
	}
	return &Handler{opts: opts, api: api}, nil
}

// answer is a 200 body: text (Content-Type application/text, as GKE) or
// JSON.
type answer struct {
	text string
	json any
}

// ServeHTTP answers one metadata request. Every answer carries
// Metadata-Flavor: Google and Server: GKE Metadata Server.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("Metadata-Flavor", "Google")
	w.Header().Set("Server", "GKE Metadata Server")
	ip := h.opts.RemoteIP(r)
	log := h.opts.Logger.With("request_id", reqID, "path", r.URL.Path, "remote_ip", ip)
	a, merr := h.serve(r, ip, log)
	if merr != nil {
		writeError(w, merr)
		return
	}
	if a.json != nil {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a.json)
		return
	}
	w.Header().Set("Content-Type", "application/text")
	_, _ = w.Write([]byte(a.text))
}

func (h *Handler) serve(r *http.Request, ip string, log *slog.Logger) (*answer, *mdError) {
	if r.Header.Get("X-Forwarded-For") != "" {
		log.Info("request refused", "decision", "deny", "reason", "X-Forwarded-For present")
		return nil, &mdError{Status: http.StatusForbidden, Body: msgForwarded}
	}
	if r.Header.Get("Metadata-Flavor") != "Google" {
		log.Info("request refused", "decision", "deny", "reason", "Metadata-Flavor header missing")
		return nil, &mdError{Status: http.StatusForbidden, Body: msgMissingFlavor}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return nil, &mdError{Status: http.StatusMethodNotAllowed, Body: "Method Not Allowed\n"}
	}
	if r.URL.Path == "/" {
		return &answer{text: "computeMetadata/\n"}, nil
	}
	req, ok := parseRequest(r.URL.Path, r.URL.RawQuery)
	if !ok {
		return nil, notFound(r.URL.Path)
	}
	if !req.needsIdentity() {
		return h.static(req)
	}
	ctx := r.Context()
	c, merr := h.identify(ctx, ip)
	if merr != nil {
		log.Info("caller not served", "decision", "deny", "principal", "ip:"+ip, "action", actionOf(req), "reason", merr.Reason)
		return nil, merr
	}
	a, merr := h.account(ctx, c, req)
	if merr != nil {
		log.Info("request refused", "decision", "deny", "principal", c.Principal(), "gsa", c.GSA, "action", actionOf(req), "resource", req.Account, "reason", merr.Reason)
		return nil, merr
	}
	if req.Kind == routeToken || req.Kind == routeIdentity {
		log.Info("token issued", "decision", "allow", "principal", c.Principal(), "gsa", c.GSA, "action", actionOf(req), "resource", req.Account, "reason", "pod on this node")
	}
	return a, nil
}

// static answers project and instance values that do not depend on the caller.
func (h *Handler) static(req *mdRequest) (*answer, *mdError) {
	o := &h.opts
	switch req.Kind {
	case routeV1:
		return dir(req, map[string]any{"instance": map[string]any{}, "project": map[string]any{}}, "instance/", "project/"), nil
	case routeProjectDir:
		return dir(req, map[string]any{"projectId": o.ProjectID, "numericProjectId": o.ProjectNumber}, "numeric-project-id", "project-id"), nil
	case routeProjectID:
		return &answer{text: o.ProjectID}, nil
	case routeProjectNumber:
		return &answer{text: o.ProjectNumber}, nil
	case routeInstanceDir:
		return dir(req, map[string]any{"attributes": h.attributes(), "hostname": o.NodeName, "id": h.instanceID(), "name": o.NodeName, "zone": h.zone()},
			"attributes/", "hostname", "id", "name", "service-accounts/", "zone"), nil
	case routeInstanceID:
		return &answer{text: fmt.Sprint(h.instanceID())}, nil
	case routeInstanceName, routeInstanceHostname:
		return &answer{text: o.NodeName}, nil
	case routeInstanceZone:
		return &answer{text: h.zone()}, nil
	case routeAttributesDir:
		return dir(req, h.attributes(), "cluster-location", "cluster-name"), nil
	case routeClusterName:
		return &answer{text: o.ClusterName}, nil
	case routeClusterLocation:
		return &answer{text: o.ClusterLocation}, nil
	case routeUniverseDomain:
		return &answer{text: "googleapis.com"}, nil
	}
	return nil, notFound(MetadataPrefix + req.Suffix)
}

func (h *Handler) attributes() map[string]any {
	return map[string]any{"cluster-location": h.opts.ClusterLocation, "cluster-name": h.opts.ClusterName}
}

// zone is instance/zone: projects/NUMBER/zones/ZONE.
func (h *Handler) zone() string { return "projects/" + h.opts.ProjectNumber + "/zones/" + h.opts.Zone }

// instanceID is a stable 19-digit-ish numeric ID derived from the node name.
func (h *Handler) instanceID() uint64 {
	sum := sha256.Sum256([]byte("gkemetadata-instance:" + h.opts.ProjectID + "/" + h.opts.NodeName))
	return binary.BigEndian.Uint64(sum[:8]) % math.MaxInt64
}

// dir answers a directory: its entries one per line, or JSON with
// ?recursive=true.
func dir(req *mdRequest, recursive any, entries ...string) *answer {
	if req.Recursive {
		return &answer{json: recursive}
	}
	return &answer{text: strings.Join(entries, "\n") + "\n"}
}

// account answers instance/service-accounts/... for the caller.
func (h *Handler) account(ctx context.Context, c *caller, req *mdRequest) (*answer, *mdError) {
	email := h.emailOf(c)
	if req.Kind == routeAccountsDir {
		info := h.accountInfo(email)
		return dir(req, map[string]any{"default": info, email: info}, "default/", email+"/"), nil
	}
	if req.Account != "default" && req.Account != email {
		return nil, notFound(MetadataPrefix + req.Suffix)
	}
	switch req.Kind {
	case routeAccountDir:
		return dir(req, h.accountInfo(email), "aliases", "email", "identity", "scopes", "token"), nil
	case routeEmail:
		return &answer{text: email}, nil
	case routeAliases:
		return &answer{text: "default"}, nil
	case routeScopes:
		return &answer{text: strings.Join(defaultScopes, "\n") + "\n"}, nil
	case routeToken:
		tok, exp, merr := h.accessToken(ctx, c, req.Scopes)
		if merr != nil {
			return nil, merr
		}
		secs := int64(exp.Sub(h.opts.Now()).Seconds())
		if secs < 1 {
			secs = 1
		}
		return &answer{json: tokenAnswer{AccessToken: tok, ExpiresIn: secs, TokenType: "Bearer"}}, nil
	case routeIdentity:
		if req.Audience == "" {
			return nil, badRequest("non-empty audience parameter required\n", "identity without audience")
		}
		tok, merr := h.idToken(ctx, c, req.Audience, req.Format == "full")
		if merr != nil {
			return nil, merr
		}
		return &answer{text: tok}, nil
	}
	return nil, notFound(MetadataPrefix + req.Suffix)
}

// tokenAnswer is the token endpoint's JSON, in GKE's field order.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
}

// emailOf is the caller's default account: the annotated GSA, the workload
// pool for unannotated KSAs (GKE's federated identity), or the node's.
func (h *Handler) emailOf(c *caller) string {
	switch {
	case c.Node:
		return h.opts.NodeServiceAccount
	case c.GSA != "":
		return c.GSA
	}
	return h.opts.WorkloadPool()
}

func (h *Handler) accountInfo(email string) map[string]any {
	return map[string]any{"aliases": []string{"default"}, "email": email, "scopes": defaultScopes}
}

// actionOf names a request in the decision log.
func actionOf(req *mdRequest) string {
	switch req.Kind {
	case routeToken:
		return "token"
	case routeIdentity:
		return "identity"
	}
	return "metadata:" + req.Suffix
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
