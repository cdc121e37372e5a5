package eksauth

import (
	"fmt"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/tlsserver"
)

// Server is the EKS Auth handler on 127.0.0.1:0 over HTTPS with certificates from
// Options.CA (or its own), like httptest. Requests are signed for service "eks-auth".
type Server = tlsserver.Server[*Handler]

// NewServer starts the emulator; Close stops it. The zero Options work:
// the server makes its own CA (Server.CA) and, without Options.IAM, an
// empty IAM that refuses every request.
func NewServer(opts Options) (*Server, error) {
	iam, err := awsiam.OrEmpty(opts.IAM, opts.Now, opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("eksauth: %w", err)
	}
	opts.IAM = iam
	h, err := New(opts)
	if err != nil {
		return nil, err
	}
	return tlsserver.Start(opts.CA, h)
}
