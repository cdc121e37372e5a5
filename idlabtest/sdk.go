package idlabtest

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Region is the region of the configs this package returns: the lab's.
const Region = "us-west-2"

// SessionName is the role session name the configs' web identity
// credentials use, so assumed-role ARNs are predictable:
// arn:aws:sts::ACCOUNT:assumed-role/ROLE/idlabtest.
const SessionName = "idlabtest"

// webIdentityConfig is an SDK config sending every request through client
// (to endpoint, when set) whose credentials come from
// AssumeRoleWithWebIdentity with the token in tokenFile.
func webIdentityConfig(client *http.Client, endpoint, roleARN, tokenFile string) aws.Config {
	cfg := aws.Config{Region: Region, HTTPClient: client, Retryer: closedConnRetryer}
	if endpoint != "" {
		cfg.BaseEndpoint = aws.String(endpoint)
	}
	provider := stscreds.NewWebIdentityRoleProvider(sts.NewFromConfig(cfg), roleARN, stscreds.IdentityTokenFile(tokenFile),
		func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = SessionName })
	cfg.Credentials = aws.NewCredentialsCache(provider)
	return cfg
}

// closedConnRetryer retries one failure only, once and at once: net/http's
// client failing a call whose response arrived as its transport closed the
// connection (net.ErrClosed, "use of closed network connection"; frequent
// on a loaded machine's loopback, aws/aws-sdk-go-v2#2737), which no server
// causes. Every other error, a denial or a 5xx included, is the call's
// answer, as with RetryMaxAttempts 1: tests count the emulators' decisions.
func closedConnRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 2
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if isClosedConn(err) {
				return aws.TrueTernary
			}
			return aws.FalseTernary
		})}
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		o.RateLimiter = ratelimit.None
	})
}

// isClosedConn reports whether err is the transport's closed connection.
func isClosedConn(err error) bool {
	return errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "use of closed network connection")
}
