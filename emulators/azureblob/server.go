package azureblob

import (
	"fmt"

	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/internal/tlsserver"
)

// Server is the blob service on 127.0.0.1:0 over HTTPS with certificates
// from Options.CA (or its own), like httptest. URL()+"/ACCOUNT" is a
// path-style account URL; Client reaches https://ACCOUNT.blob.core.windows.net too.
type Server = tlsserver.Server[*Handler]

// NewServer starts the emulator; Close stops it. The zero Options work:
// the server makes its own CA (Server.CA) and, without Options.Tokens, an
// empty Entra that accepts no token.
func NewServer(opts Options) (*Server, error) {
	if opts.Tokens == nil {
		tokens, err := entra.New(entra.Options{Now: opts.Now, Logger: opts.Logger})
		if err != nil {
			return nil, fmt.Errorf("azureblob: %w", err)
		}
		opts.Tokens = tokens
	}
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	return tlsserver.Start(opts.CA, h)
}
