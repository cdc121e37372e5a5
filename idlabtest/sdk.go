package idlabtest

import (
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/idlab/idlab/internal/sdkretry"
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
	cfg := aws.Config{Region: Region, HTTPClient: client, Retryer: sdkretry.ClosedConn}
	if endpoint != "" {
		cfg.BaseEndpoint = aws.String(endpoint)
	}
	provider := stscreds.NewWebIdentityRoleProvider(sts.NewFromConfig(cfg), roleARN, stscreds.IdentityTokenFile(tokenFile),
		func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = SessionName })
	cfg.Credentials = aws.NewCredentialsCache(provider)
	return cfg
}
