// Command probe runs inside a scenario pod: it builds AWS credentials from
// the default chain, exactly as an unmodified application would (web
// identity token file, container credentials, IMDS ...), calls
// sts:GetCallerIdentity and prints one JSON line with the outcome. It always
// exits 0 so the scenario reads the result from the log.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/idlab/idlab/scenarios/internal/probe"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := run(ctx)
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

func run(ctx context.Context) probe.Result {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		r := probe.Result{ErrorCode: "ClientError", ErrorMessage: err.Error()}
		var ae smithy.APIError
		if errors.As(err, &ae) {
			r.ErrorCode, r.ErrorMessage = ae.ErrorCode(), ae.ErrorMessage()
		}
		return r
	}
	return probe.Result{OK: true, Arn: aws.ToString(out.Arn), Account: aws.ToString(out.Account), UserID: aws.ToString(out.UserId)}
}
