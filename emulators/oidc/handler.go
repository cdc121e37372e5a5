package oidc

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/idlab/idlab/internal/certs"
)

// Options configure the issuers' handler and server.
type Options struct {
	// CA issues the certificates of NewServer. Defaults to a CA of the
	// server's own (Server.CA), so no caller needs to name certs.CA.
	CA *certs.CA
	// Now is the clock tokens are minted with. Defaults to time.Now.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Handler serves every hosted issuer; AdminHandler serves the admin API.
type Handler struct {
	now func() time.Time
	log *slog.Logger

	mu      sync.RWMutex
	issuers []*Issuer
}

// New returns a handler with no issuers.
func New(opts Options) (*Handler, error) {
	h := &Handler{now: opts.Now, log: opts.Logger}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// AddIssuer hosts issuerURL, or returns the issuer already hosted there.
func (h *Handler) AddIssuer(issuerURL string, opts ...IssuerOption) (*Issuer, error) {
	iss, err := newIssuer(issuerURL, h.now, opts...)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, old := range h.issuers {
		if old.url == issuerURL {
			return old, nil
		}
	}
	h.issuers = append(h.issuers, iss)
	h.log.Info("issuer added", "issuer", issuerURL, "jwks_uri", iss.JWKSURL())
	return iss, nil
}

// Issuer returns the issuer with exactly this URL.
func (h *Handler) Issuer(issuerURL string) (*Issuer, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, i := range h.issuers {
		if i.url == issuerURL {
			return i, true
		}
	}
	return nil, false
}

// Issuers lists the hosted issuers.
func (h *Handler) Issuers() []*Issuer {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return append([]*Issuer(nil), h.issuers...)
}

// Match finds the issuer a request addresses: by host and path prefix, or by
// path alone when the host is an IP address or localhost (tests on the host).
func (h *Handler) Match(host, path string) (*Issuer, bool) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	loopback := host == "localhost" || net.ParseIP(strings.Trim(host, "[]")) != nil
	h.mu.RLock()
	defer h.mu.RUnlock()
	var best *Issuer
	for _, i := range h.issuers {
		if !loopback && i.host != host {
			continue
		}
		if loopback && i.path == "" {
			continue
		}
		if path == i.path || strings.HasPrefix(path, i.path+"/") {
			if best == nil || len(i.path) > len(best.path) {
				best = i
			}
		}
	}
	return best, best != nil
}

// discovery is the document kube-apiserver serves at
// /.well-known/openid-configuration (pkg/serviceaccount/openidmetadata.go).
type discovery struct {
	Issuer        string   `json:"issuer"`
	JWKSURI       string   `json:"jwks_uri"`
	ResponseTypes []string `json:"response_types_supported"`
	SubjectTypes  []string `json:"subject_types_supported"`
	SigningAlgs   []string `json:"id_token_signing_alg_values_supported"`
}

// ServeHTTP answers discovery and JWKS: what verifiers and pods reach.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	iss, ok := h.Match(host, r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case iss.path + "/.well-known/openid-configuration":
		writeCached(w, "application/json", discovery{
			Issuer: iss.url, JWKSURI: iss.JWKSURL(),
			ResponseTypes: []string{"id_token"}, SubjectTypes: []string{"public"},
			SigningAlgs: iss.algorithms(),
		})
	case iss.jwksPath:
		writeCached(w, "application/jwk-set+json", iss.JWKS())
	default:
		http.NotFound(w, r)
	}
}

// writeCached writes JSON with the caching headers kube-apiserver sends for
// its OIDC documents.
func writeCached(w http.ResponseWriter, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}

// AdminPrefix is where AdminHandler answers.
const AdminPrefix = "/_idlab/oidc/"

// tokenRequestJSON is the body of POST /_idlab/oidc/token.
type tokenRequestJSON struct {
	Issuer            string     `json:"issuer"`
	Namespace         string     `json:"namespace"`
	ServiceAccount    string     `json:"serviceAccount"`
	ServiceAccountUID string     `json:"serviceAccountUID,omitempty"`
	Audiences         []string   `json:"audiences"`
	ExpirationSeconds int64      `json:"expirationSeconds"`
	Pod               *ObjectRef `json:"pod,omitempty"`
	Node              *ObjectRef `json:"node,omitempty"`
	Secret            *ObjectRef `json:"secret,omitempty"`
}

// AdminHandler serves the test API under /_idlab/oidc/. It is for the
// lab's control plane only: it mints tokens and changes keys, so it is
// never part of ServeHTTP, which workloads reach.
//
//	GET    issuers                        -> [{"url","jwksUri","keys":[kid...],"signingKey","tokensMinted"}]
//	POST   issuers {"url","jwksPath"}     -> 201 {"url","jwksUri"}
//	POST   issuers/keys?issuer=URL[&alg=][&signing=true] -> 201 {"kid","alg","signingKey"}
//	                                      (body {"alg","signing"} also accepted; RS256 default;
//	                                      signing=true makes the new key the signing key: a rotation)
//	DELETE issuers/keys/{kid}?issuer=URL  -> 204
//	POST   token {"issuer","namespace","serviceAccount","serviceAccountUID","audiences",
//	              "expirationSeconds","pod","node","secret"} -> {"token"}
func (h *Handler) AdminHandler() http.Handler { return http.HandlerFunc(h.serveAdmin) }

func (h *Handler) serveAdmin(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, AdminPrefix)
	switch {
	case p == "issuers" && r.Method == http.MethodGet:
		type out struct {
			URL          string   `json:"url"`
			JWKSURI      string   `json:"jwksUri"`
			Keys         []string `json:"keys"`
			SigningKey   string   `json:"signingKey,omitempty"`
			TokensMinted int64    `json:"tokensMinted"`
		}
		list := []out{}
		for _, i := range h.Issuers() {
			o := out{URL: i.url, JWKSURI: i.JWKSURL(), Keys: []string{}, SigningKey: i.SigningKeyID(), TokensMinted: i.TokensMinted()}
			for _, k := range i.Keys() {
				o.Keys = append(o.Keys, k.ID)
			}
			list = append(list, o)
		}
		adminJSON(w, http.StatusOK, list)
	case p == "issuers" && r.Method == http.MethodPost:
		var in struct {
			URL      string `json:"url"`
			JWKSPath string `json:"jwksPath,omitempty"`
		}
		if !readJSON(w, r, &in) {
			return
		}
		var opts []IssuerOption
		if in.JWKSPath != "" {
			opts = append(opts, WithJWKSPath(in.JWKSPath))
		}
		iss, err := h.AddIssuer(in.URL, opts...)
		if err != nil {
			adminError(w, http.StatusBadRequest, "InvalidIssuer", err.Error())
			return
		}
		adminJSON(w, http.StatusCreated, map[string]string{"url": iss.url, "jwksUri": iss.JWKSURL()})
	case p == "issuers/keys" && r.Method == http.MethodPost:
		iss, ok := h.Issuer(r.URL.Query().Get("issuer"))
		if !ok {
			adminError(w, http.StatusNotFound, "NoSuchIssuer", "no issuer "+r.URL.Query().Get("issuer"))
			return
		}
		alg := r.URL.Query().Get("alg")
		signing := r.URL.Query().Get("signing") == "true"
		if r.ContentLength > 0 && alg == "" {
			var in struct {
				Alg     string `json:"alg"`
				Signing bool   `json:"signing"`
			}
			if !readJSON(w, r, &in) {
				return
			}
			alg, signing = in.Alg, signing || in.Signing
		}
		k, err := iss.AddKey(alg)
		if err == nil && signing {
			// Rotation: the new key signs from now on, the old ones stay
			// published for the tokens they signed.
			err = iss.SetSigningKey(k.ID)
		}
		if err != nil {
			adminError(w, http.StatusBadRequest, "InvalidKey", err.Error())
			return
		}
		adminJSON(w, http.StatusCreated, map[string]string{"kid": k.ID, "alg": k.Algorithm, "signingKey": iss.SigningKeyID()})
	case strings.HasPrefix(p, "issuers/keys/") && r.Method == http.MethodDelete:
		iss, ok := h.Issuer(r.URL.Query().Get("issuer"))
		if !ok {
			adminError(w, http.StatusNotFound, "NoSuchIssuer", "no issuer "+r.URL.Query().Get("issuer"))
			return
		}
		if err := iss.RemoveKey(strings.TrimPrefix(p, "issuers/keys/")); err != nil {
			adminError(w, http.StatusNotFound, "NoSuchKey", err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case p == "token" && r.Method == http.MethodPost:
		var in tokenRequestJSON
		if !readJSON(w, r, &in) {
			return
		}
		iss, ok := h.Issuer(in.Issuer)
		if !ok {
			adminError(w, http.StatusNotFound, "NoSuchIssuer", "no issuer "+in.Issuer)
			return
		}
		tok, err := iss.MintServiceAccountToken(TokenRequest{
			Namespace: in.Namespace, ServiceAccount: in.ServiceAccount, ServiceAccountUID: in.ServiceAccountUID,
			Audiences: in.Audiences, ExpirationSeconds: in.ExpirationSeconds,
			Pod: in.Pod, Node: in.Node, Secret: in.Secret,
		})
		if err != nil {
			adminError(w, http.StatusBadRequest, "InvalidTokenRequest", err.Error())
			return
		}
		h.log.Info("token minted", "issuer", iss.url, "sub", "system:serviceaccount:"+in.Namespace+":"+in.ServiceAccount, "aud", in.Audiences)
		adminJSON(w, http.StatusOK, map[string]string{"token": tok})
	default:
		adminError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("no admin endpoint %s %s", r.Method, r.URL.Path))
	}
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		adminError(w, http.StatusBadRequest, "MalformedJSON", err.Error())
		return false
	}
	return true
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func adminError(w http.ResponseWriter, status int, code, msg string) {
	adminJSON(w, status, map[string]string{"error": code, "message": msg})
}
