package azurearm

import (
	"fmt"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/internal/tlsserver"
)

// Server is the emulator on 127.0.0.1:0 over HTTPS with certificates from
// Options.CA (or its own), like httptest.
type Server = tlsserver.Server[*Handler]

// NewServer starts the emulator; Close stops it. The zero Options work:
// the server makes its own CA and, without Options.Directory, an empty
// Entra that accepts no token.
func NewServer(opts Options) (*Server, error) {
	if opts.Directory == nil {
		dir, err := entra.New(entra.Options{Now: opts.Now, Logger: opts.Logger})
		if err != nil {
			return nil, fmt.Errorf("azurearm: %w", err)
		}
		opts.Directory = dir
	}
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	return tlsserver.Start(opts.CA, h)
}
