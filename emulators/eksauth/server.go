package eksauth

import (
	"errors"

	"github.com/idlab/idlab/internal/tlsserver"
)

// Server is the EKS Auth handler on 127.0.0.1:0 over HTTPS with certificates from
// Options.CA, like httptest. Requests are signed for service "eks-auth".
type Server = tlsserver.Server[*Handler]

// NewServer starts the emulator; Close stops it.
func NewServer(opts Options) (*Server, error) {
	if opts.CA == nil {
		return nil, errors.New("eksauth: NewServer needs Options.CA")
	}
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	return tlsserver.Start(opts.CA, h)
}
