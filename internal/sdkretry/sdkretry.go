// Package sdkretry is the aws-sdk-go-v2 retryer of the SDK configs idlab
// hands to tests (idlabtest, testcontainers/idlab): it retries one
// failure only, once and at once, net/http's client failing a call whose
// response arrived as its transport closed the connection (net.ErrClosed,
// "use of closed network connection"; frequent on a loaded machine's
// loopback, aws/aws-sdk-go-v2#2737), which no server causes. Every other
// error, a denial or a 5xx included, is the call's answer, as with
// RetryMaxAttempts 1: tests count the emulators' decisions.
package sdkretry

import (
	"errors"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// ClosedConn is the retryer (aws.Config.Retryer takes the function).
func ClosedConn() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 2
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if IsClosedConn(err) {
				return aws.TrueTernary
			}
			return aws.FalseTernary
		})}
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		o.RateLimiter = ratelimit.None
	})
}

// IsClosedConn reports whether err is the transport's closed connection.
func IsClosedConn(err error) bool {
	return errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "use of closed network connection")
}
