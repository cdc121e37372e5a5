package azureblob

import (
	"errors"
	"log/slog"
	"time"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/decisionlog"
)

// TokenVerifier verifies Entra access tokens; *entra.Handler is one.
type TokenVerifier interface {
	VerifyAccessToken(token string) (*entra.Claims, error)
}

// Options configure the handler and the server.
type Options struct {
	// Tokens verifies bearer tokens (the lab's Entra emulator). Required
	// by New; NewServer defaults it to an empty Entra, which knows no
	// tenant.
	Tokens TokenVerifier
	// Now is the clock Last-Modified and decisions use. Defaults to time.Now.
	Now func() time.Time
	// Logger receives one line per decision. Defaults to discarding.
	Logger *slog.Logger
	// DataDir keeps containers and blobs across restarts (file
	// azureblob-state.json). Defaults to "" (memory only).
	DataDir string
	// Fsync makes every write under DataDir durable against power loss,
	// not only against a killed process. Defaults to off (idlab serve
	// --fsync).
	Fsync bool
	// CA issues the certificates of NewServer. Defaults to a CA of the
	// server's own (Server.CA), so no caller needs to name certs.CA.
	CA *certs.CA
	// Decisions is the log decisions go to, shared with the lab's other
	// emulators. Defaults to a log of its own.
	Decisions *decisionlog.Log
}

// ErrNoVerifier is returned by New without Options.Tokens.
var ErrNoVerifier = errors.New("azureblob: Options.Tokens is required")

func (o Options) normalize() (Options, error) {
	if o.Tokens == nil {
		return o, ErrNoVerifier
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
