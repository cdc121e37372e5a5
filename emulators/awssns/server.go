package awssns

import (
	"errors"

	"github.com/idlab/idlab/internal/tlsserver"
)

// Server is the SNS handler on 127.0.0.1:0 over HTTPS with certificates from
// Options.CA, like httptest. Set URL as AWS_ENDPOINT_URL_SNS; Close also stops pending HTTP deliveries.
type Server = tlsserver.Server[*Handler]

// NewServer starts the emulator; Close stops it.
func NewServer(opts Options) (*Server, error) {
	if opts.CA == nil {
		return nil, errors.New("awssns: NewServer needs Options.CA")
	}
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	return tlsserver.Start(opts.CA, h)
}
