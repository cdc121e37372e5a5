package gcpiam

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/idlab/idlab/internal/decisionlog"
	"github.com/idlab/idlab/internal/jsonlog"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/jwtverify"
)

// Google host names the handler answers for.
const (
	HostAccounts       = "accounts.google.com"
	HostWWW            = "www.googleapis.com"
	HostOAuth2         = "oauth2.googleapis.com"
	HostIAMCredentials = "iamcredentials.googleapis.com"
	HostSTS            = "sts.googleapis.com"
	HostIAM            = "iam.googleapis.com"
)

// Issuer is the iss of every Google ID token.
const Issuer = "https://accounts.google.com"

// Options configure the Google identity emulator.
type Options struct {
	// Now is the clock tokens are minted and checked with. Defaults to time.Now.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
	// DataDir keeps service accounts, bindings, pools, signing keys and
	// issued access tokens across restarts. "" (the default) keeps them in
	// memory only.
	DataDir string
	// Fsync makes every write under DataDir durable against power loss,
	// not only against a killed process. Defaults to off (idlab serve
	// --fsync).
	Fsync bool
	// CA issues the certificates of NewServer. Defaults to a CA of the
	// server's own (Server.CA), so no caller needs to name certs.CA.
	CA *certs.CA
	// HTTPClient fetches OIDC discovery documents and JWKS of workload
	// identity pool issuers for STS token exchange. Defaults to
	// http.DefaultClient.
	HTTPClient *http.Client
	// Decisions is the log decisions go to, shared with the lab's other
	// emulators. Defaults to a log of its own.
	Decisions *decisionlog.Log
}

// Handler is the Google identity plane: the accounts.google.com issuer, IAM
// bindings, IAM Credentials, STS and tokeninfo. It is an http.Handler and the
// admin API (AddServiceAccount, AddBinding, Mint*, Decisions) other
// emulators and the harness call.
type Handler struct {
	now  func() time.Time
	log  *slog.Logger
	dir  string
	sync bool
	keys *jwtverify.DiscoveryKeys

	mu        sync.RWMutex
	st        *state
	signer    *signingKey            // the accounts.google.com key minting uses
	saKeys    map[string]*signingKey // per service account, for signJwt / signBlob
	decisions *decisionlog.Log
	// jr journals the tokens when dir is set; sincePurge and lastPurge
	// pace purgeTokensLocked. Guarded by mu.
	jr         *jsonlog.Journal[tokenRecord]
	sincePurge int
	lastPurge  time.Time
}

// New returns a handler, loading Options.DataDir when it holds state.
func New(opts Options) (*Handler, error) {
	h := &Handler{now: opts.Now, log: opts.Logger, dir: opts.DataDir, sync: opts.Fsync, saKeys: map[string]*signingKey{}, decisions: opts.Decisions}
	if h.decisions == nil {
		h.decisions = &decisionlog.Log{}
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.keys = &jwtverify.DiscoveryKeys{Client: opts.HTTPClient, Now: h.now}
	if err := h.load(); err != nil {
		return nil, fmt.Errorf("gcpiam: %w", err)
	}
	return h, nil
}

// IssuerURL is the issuer of the ID tokens the handler mints.
func (h *Handler) IssuerURL() string { return Issuer }

// Now is the handler's clock.
func (h *Handler) Now() time.Time { return h.now() }

// service names the API a request addresses.
type service int

const (
	svcNone service = iota
	svcAccounts
	svcWWW
	svcOAuth2
	svcIAMCredentials
	svcSTS
	svcIAM
)

var hostServices = map[string]service{
	HostAccounts:       svcAccounts,
	HostWWW:            svcWWW,
	HostOAuth2:         svcOAuth2,
	HostIAMCredentials: svcIAMCredentials,
	HostSTS:            svcSTS,
	HostIAM:            svcIAM,
}

// serviceFor picks the API by Host, or by path on loopback and unknown
// hosts (tests that point an SDK at https://127.0.0.1:PORT).
func serviceFor(host, path string) service {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if s, ok := hostServices[host]; ok {
		return s
	}
	switch {
	case strings.HasPrefix(path, "/.well-known/"):
		return svcAccounts
	case strings.HasPrefix(path, "/oauth2/"), strings.HasPrefix(path, "/service_accounts/"):
		return svcWWW
	case path == "/tokeninfo":
		return svcOAuth2
	case path == "/v1/token", path == "/v1beta/token":
		return svcSTS
	case strings.HasPrefix(path, "/v1/projects/") && strings.Contains(path, ":"):
		return svcIAMCredentials
	case strings.HasPrefix(path, "/v1/projects/"):
		return svcIAM
	}
	return svcNone
}

// ServeHTTP routes by Host (and by path on loopback).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("X-Idlab-Request-Id", reqID)
	p := r.URL.Path
	switch serviceFor(r.Host, p) {
	case svcAccounts:
		if p == "/.well-known/openid-configuration" {
			h.serveDiscovery(w, r)
			return
		}
	case svcWWW:
		switch {
		case p == "/oauth2/v3/certs":
			h.serveJWKS(w, r)
			return
		case p == "/oauth2/v1/certs":
			h.serveX509(w, r)
			return
		case p == "/oauth2/v3/tokeninfo" || p == "/oauth2/v2/tokeninfo" || p == "/oauth2/v1/tokeninfo":
			h.serveTokenInfo(w, r)
			return
		case strings.HasPrefix(p, "/service_accounts/v1/"):
			h.serveSAKeys(w, r)
			return
		}
	case svcOAuth2:
		if p == "/tokeninfo" {
			h.serveTokenInfo(w, r)
			return
		}
	case svcIAMCredentials:
		h.serveIAMCredentials(w, r, reqID)
		return
	case svcSTS:
		if p == "/v1/token" || p == "/v1beta/token" {
			h.serveSTS(w, r, reqID)
			return
		}
	case svcIAM:
		h.serveIAM(w, r, reqID)
		return
	}
	writeAPIError(w, apiNotFound(fmt.Sprintf("The requested URL %s was not found on this server.", p)))
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
