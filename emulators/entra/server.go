package entra

import (
	"github.com/idlab/idlab/internal/tlsserver"
)

// Server is the Entra token service on 127.0.0.1:0 over HTTPS with certificates from
// Options.CA, like httptest. URL is an authority host for azidentity (cloud.Configuration.ActiveDirectoryAuthorityHost); Client reaches https://login.microsoftonline.com.
type Server = tlsserver.Server[*Handler]

// NewServer starts the emulator; Close stops it.
func NewServer(opts Options) (*Server, error) {
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	return tlsserver.Start(opts.CA, h)
}
