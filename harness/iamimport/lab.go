package iamimport

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/idlab/idlab/harness"
)

// LabTarget is the running lab st describes: its IAM API as each
// account's admin, which the lab's admin API gives (making the admin of an
// account the lab did not know), and that admin API's fixtures for AWS
// managed policies. It is what `idlab iam import` imports into.
func LabTarget(ctx context.Context, st *harness.State) (Target, error) {
	hc, err := st.HTTPClient()
	if err != nil {
		return Target{}, err
	}
	clients := Clients(ctx, st.EmulatorURL, hc, func(ctx context.Context, account string) (aws.Credentials, error) {
		return LabAdmin(ctx, st, account)
	})
	load := func(ctx context.Context, fixture []byte) error {
		return st.Admin(ctx, http.MethodPost, "/_idlab/iam/fixtures", json.RawMessage(fixture), nil)
	}
	return Target{Clients: clients, LoadAWSManaged: load}, nil
}

// LabAdmin is the access key of account's lab admin, from the lab's admin
// API, which makes the admin when the account has none yet.
func LabAdmin(ctx context.Context, st *harness.State, account string) (aws.Credentials, error) {
	var keys struct{ AccessKeyId, SecretAccessKey string }
	if err := st.Admin(ctx, http.MethodPost, "/_idlab/iam/admins/"+account, nil, &keys); err != nil {
		return aws.Credentials{}, fmt.Errorf("admin of account %s: %w", account, err)
	}
	return aws.Credentials{AccessKeyID: keys.AccessKeyId, SecretAccessKey: keys.SecretAccessKey}, nil
}
