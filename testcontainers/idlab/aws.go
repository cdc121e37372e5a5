package idlab

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/idlab/idlab/internal/sdkretry"
)

// SessionName is the role session name AWSConfig's credentials use, so
// assumed-role ARNs are predictable:
// arn:aws:sts::ACCOUNT:assumed-role/ROLE/idlab-testcontainers.
const SessionName = "idlab-testcontainers"

// AWSConfig is an aws-sdk-go-v2 config whose credentials are those of
// roleARN, assumed with AssumeRoleWithWebIdentity and the token in
// tokenFile (re-read at every refresh, as the SDK does in a pod). Every
// service's client reaches the emulator by its real host name through
// Client, so no endpoint needs setting.
func (c *Container) AWSConfig(roleARN, tokenFile string) aws.Config {
	// One retry of net/http's closed-connection failure on loopback, and
	// of nothing else (internal/sdkretry): a denial is the call's answer.
	cfg := aws.Config{Region: c.region, HTTPClient: c.Client(), Retryer: sdkretry.ClosedConn}
	provider := stscreds.NewWebIdentityRoleProvider(sts.NewFromConfig(cfg), roleARN, stscreds.IdentityTokenFile(tokenFile),
		func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = SessionName })
	cfg.Credentials = aws.NewCredentialsCache(provider)
	return cfg
}
