package entra

import (
	"github.com/idlab/idlab/internal/decisionlog"
	"log/slog"
	"net/http"
	"time"

	"github.com/idlab/idlab/internal/certs"
)

// Options configure the handler and the server. The zero value works (in
// memory, real clock, discarded logs, http.DefaultClient).
type Options struct {
	// Now is the clock tokens are issued and assertions checked with.
	// Defaults to time.Now.
	Now func() time.Time
	// Logger receives one line per token decision. Defaults to discarding.
	Logger *slog.Logger
	// DataDir keeps tenant keys and apps across restarts (file
	// entra-state.json). Defaults to "" (memory only).
	DataDir string
	// Fsync makes every write under DataDir durable against power loss,
	// not only against a killed process. Defaults to off (idlab serve
	// --fsync).
	Fsync bool
	// HTTPClient fetches the OIDC discovery documents and JWKS of the
	// federated issuers named in client assertions (the lab's issuers).
	// Defaults to http.DefaultClient.
	HTTPClient *http.Client
	// Decisions is the log decisions go to, shared with the lab's other
	// emulators. Defaults to a log of its own.
	Decisions *decisionlog.Log
	// CA issues the certificates of NewServer. Defaults to a CA of the
	// server's own (Server.CA), so no caller needs to name certs.CA.
	CA *certs.CA
}

// normalize fills the defaults; the one place options are checked.
func (o Options) normalize() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	return o
}
