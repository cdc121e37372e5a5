package azureimds

import (
	"log/slog"
	"time"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/internal/decisionlog"
)

// Identities is the directory that knows managed identities and mints
// their tokens; *entra.Handler is one.
type Identities interface {
	FindManagedIdentity(entra.IdentitySelector) (entra.App, bool)
	IssueManagedIdentityToken(mi entra.App, resource, caller string) (*entra.ManagedIdentityToken, error)
}

// Options configure one VM's metadata service.
type Options struct {
	// Identities finds managed identities and mints their tokens. Required.
	Identities Identities
	// Now is the clock of the token cache. Defaults to time.Now.
	Now func() time.Time
	// Logger receives one line per token request. Defaults to discarding.
	Logger *slog.Logger
	// VM names the virtual machine (or scale-set instance) in decisions and
	// logs. Defaults to "vm".
	VM string
	// Assigned are the resource IDs of the user-assigned identities
	// assigned from the start.
	Assigned []string
	// Decisions is the lab's decision log. Defaults to a log of its own.
	Decisions *decisionlog.Log
}

func (o Options) normalize() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.VM == "" {
		o.VM = "vm"
	}
	if o.Decisions == nil {
		o.Decisions = &decisionlog.Log{}
	}
	return o
}
