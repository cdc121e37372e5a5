package iamimport

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/idlab/idlab/emulators/awsiam"
)

// Clients gives Apply the IAM API client of each account at endpoint,
// signing as the account's admin with the credentials creds finds.
func Clients(ctx context.Context, endpoint string, hc *http.Client, creds func(ctx context.Context, account string) (aws.Credentials, error)) func(string) (API, error) {
	return func(account string) (API, error) {
		c, err := creds(ctx, account)
		if err != nil {
			return nil, err
		}
		return NewClient(endpoint, hc, c), nil
	}
}

// ProfileCredentials reads the lab admin of account from the
// shared-credentials file idlab serve writes (DATA/iam/admin-credentials):
// its profile idlab-ACCOUNT, read with aws-sdk-go-v2's own parser.
func ProfileCredentials(ctx context.Context, path, account string) (aws.Credentials, error) {
	profile := awsiam.AdminProfilePrefix + account
	sc, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
		o.CredentialsFiles = []string{path}
		o.ConfigFiles = []string{}
	})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("admin of account %s: profile %s of %s: %w (an account the lab's fixtures do not name has no admin yet: "+
			"import into the lab through its state dir, which makes one)", account, profile, path, err)
	}
	if sc.Credentials.AccessKeyID == "" {
		return aws.Credentials{}, fmt.Errorf("admin of account %s: profile %s of %s holds no access key", account, profile, path)
	}
	return sc.Credentials, nil
}

// Describe writes the plan, one line an entity, for --dry-run.
func (p *Plan) Describe(w io.Writer) {
	for _, x := range p.Providers {
		fmt.Fprintf(w, "OIDC provider %s (client IDs %s)\n", x.ARN(), strings.Join(x.ClientIDs, ", "))
	}
	for _, x := range p.AWSPolicies {
		fmt.Fprintf(w, "AWS managed policy %s (loaded when the lab lacks it)\n", x.ARN)
	}
	for _, x := range p.Policies {
		fmt.Fprintf(w, "managed policy %s\n", x.ARN)
	}
	for _, x := range p.Roles {
		fmt.Fprintf(w, "role arn:aws:iam::%s:role%s%s\n", x.Account, x.Path, x.Name)
	}
	for _, x := range p.Inline {
		fmt.Fprintf(w, "inline policy %s of role %s in %s\n", x.Name, x.Role, x.Account)
	}
	for _, x := range p.Attachments {
		fmt.Fprintf(w, "attach %s to role %s in %s\n", x.PolicyARN, x.Role, x.Account)
	}
}
