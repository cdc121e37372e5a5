package azurearm

import (
	"errors"
	"log/slog"
	"time"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/decisionlog"
)

// Directory verifies Entra access tokens and describes tenants; the lab's
// *entra.Handler is one.
type Directory interface {
	VerifyAccessToken(token string) (*entra.Claims, error)
	Tenant(id string) (entra.Tenant, bool)
}

// Subscriptions names the subscriptions of tenant in which principalID
// (a service principal's object ID) holds a role assignment; the lab's
// *azureblob.Handler is one.
type Subscriptions interface {
	SubscriptionsOf(tenant, principalID string) []string
}

// Options configure the handler and the server.
type Options struct {
	// Directory verifies bearer tokens and names tenants (the lab's Entra
	// emulator). Required by New; NewServer defaults it to an empty Entra,
	// which knows no tenant.
	Directory Directory
	// Subscriptions lists a principal's subscriptions. Defaults to none
	// anywhere (beyond those of Resource Manager's own role assignments).
	Subscriptions Subscriptions
	// Identities finds the user-assigned managed identities a scale set
	// update names. Defaults to Directory when it is one, else to none.
	Identities ManagedIdentities
	// Now is the clock of decisions and of the expiry message. Defaults to
	// time.Now.
	Now func() time.Time
	// Logger receives one line per decision. Defaults to discarding.
	Logger *slog.Logger
	// Decisions is the log decisions go to, shared with the lab's other
	// emulators. Defaults to a log of its own.
	Decisions *decisionlog.Log
	// CA issues the certificates of NewServer. Defaults to a CA of the
	// server's own (Server.CA).
	CA *certs.CA
}

// ErrNoDirectory is returned by New without Options.Directory.
var ErrNoDirectory = errors.New("azurearm: Options.Directory is required")

// noSubscriptions lists none.
type noSubscriptions struct{}

func (noSubscriptions) SubscriptionsOf(string, string) []string { return nil }

// noIdentities finds none.
type noIdentities struct{}

func (noIdentities) FindManagedIdentity(entra.IdentitySelector) (entra.App, bool) {
	return entra.App{}, false
}

func (o Options) normalize() (Options, error) {
	if o.Directory == nil {
		return o, ErrNoDirectory
	}
	if o.Subscriptions == nil {
		o.Subscriptions = noSubscriptions{}
	}
	if o.Identities == nil {
		if mi, ok := o.Directory.(ManagedIdentities); ok {
			o.Identities = mi
		} else {
			o.Identities = noIdentities{}
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Decisions == nil {
		o.Decisions = &decisionlog.Log{}
	}
	return o, nil
}
