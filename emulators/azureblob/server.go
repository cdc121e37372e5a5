package azureblob

import (
	"errors"

	"github.com/idlab/idlab/internal/tlsserver"
)

// Server is the blob service on 127.0.0.1:0 over HTTPS with certificates
// from Options.CA, like httptest. URL()+"/ACCOUNT" is a path-style account
// URL; Client reaches https://ACCOUNT.blob.core.windows.net too.
type Server = tlsserver.Server[*Handler]

// NewServer starts the emulator; Close stops it.
func NewServer(opts Options) (*Server, error) {
	if opts.CA == nil {
		return nil, errors.New("azureblob: NewServer needs Options.CA")
	}
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	return tlsserver.Start(opts.CA, h)
}
