package gcpiam

import (
	"github.com/idlab/idlab/internal/tlsserver"
)

// Server is Google's identity plane on 127.0.0.1:0 over HTTPS with certificates from
// Options.CA, like httptest. Client reaches https://accounts.google.com, https://sts.googleapis.com and the other Google hosts.
type Server = tlsserver.Server[*Handler]

// NewServer starts the emulator; Close stops it.
func NewServer(opts Options) (*Server, error) {
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	return tlsserver.Start(opts.CA, h)
}
