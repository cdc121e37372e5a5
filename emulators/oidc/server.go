package oidc

import (
	"github.com/idlab/idlab/internal/tlsserver"
)

// Server is the OIDC issuers on 127.0.0.1:0 over HTTPS with certificates from
// Options.CA, like httptest. Client reaches issuer URLs such as https://oidc.eks.us-west-2.amazonaws.com/id/X.
type Server = tlsserver.Server[*Handler]

// NewServer starts the emulator; Close stops it.
func NewServer(opts Options) (*Server, error) {
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	return tlsserver.Start(opts.CA, h)
}
