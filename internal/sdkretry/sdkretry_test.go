package sdkretry

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
)

// TestClosedConn: only the transport's closed connection is
// retried, once; a denial, a server error and other network errors are
// the call's answer.
func TestClosedConn(t *testing.T) {
	r := ClosedConn()
	require.Equal(t, 2, r.MaxAttempts())
	for _, tc := range []struct {
		name  string
		err   error
		retry bool
	}{
		{"net.ErrClosed wrapped", fmt.Errorf("deserialization failed: %w", &net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed}), true},
		{"the text only", errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: use of closed network connection"), true},
		{"AccessDenied", &smithy.GenericAPIError{Code: "AccessDenied", Message: "Not authorized"}, false},
		{"InternalError", &smithy.GenericAPIError{Code: "InternalError", Fault: smithy.FaultServer}, false},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.retry, r.IsErrorRetryable(tc.err))
		})
	}
}
