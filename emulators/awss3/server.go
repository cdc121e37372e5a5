package awss3

import (
	"errors"

	"github.com/idlab/idlab/internal/tlsserver"
)

// Server is the S3 handler on 127.0.0.1:0 over HTTPS with certificates from
// Options.CA, like httptest. Point the SDK at URL with path-style addressing (UsePathStyle), or use Client with virtual-hosted names.
type Server = tlsserver.Server[*Handler]

// NewServer starts the emulator; Close stops it.
func NewServer(opts Options) (*Server, error) {
	if opts.CA == nil {
		return nil, errors.New("awss3: NewServer needs Options.CA")
	}
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	return tlsserver.Start(opts.CA, h)
}
