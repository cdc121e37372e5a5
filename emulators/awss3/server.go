package awss3

import (
	"fmt"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/tlsserver"
)

// Server is the S3 handler on 127.0.0.1:0 over HTTPS with certificates from
// Options.CA (or its own), like httptest. Point the SDK at URL with path-style addressing (UsePathStyle), or use Client with virtual-hosted names.
type Server = tlsserver.Server[*Handler]

// NewServer starts the emulator; Close stops it. The zero Options work:
// the server makes its own CA (Server.CA) and, without Options.IAM, an
// empty IAM that refuses every request.
func NewServer(opts Options) (*Server, error) {
	iam, err := awsiam.OrEmpty(opts.IAM, opts.Now, opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("awss3: %w", err)
	}
	opts.IAM = iam
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	return tlsserver.Start(opts.CA, h)
}
