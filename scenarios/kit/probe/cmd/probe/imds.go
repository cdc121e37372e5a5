package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// metadataBase is the endpoint the SDK's IMDS client was pointed at,
// AWS_EC2_METADATA_SERVICE_ENDPOINT (a multi-node row sends a pod to
// another node's proxy), else http://169.254.169.254.
func metadataBase(getenv func(string) string) string {
	if e := strings.TrimSuffix(getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT"), "/"); e != "" {
		return e
	}
	return "http://169.254.169.254"
}

// imdsCreds is `probe imds-creds`: sts:GetCallerIdentity with the default
// chain (which ends at the instance metadata), and, when that fails, what
// the metadata endpoint itself answers for the role listing, as
// "STATUS BODY" in Output: the proxy's or IMDS's own refusal.
func imdsCreds(ctx context.Context) probe.Result {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err == nil {
		return probe.Result{OK: true, Arn: aws.ToString(out.Arn), Account: aws.ToString(out.Account), UserID: aws.ToString(out.UserId)}
	}
	res := awsError(err)
	res.Output = rawMetadata(ctx, "/latest/meta-data/iam/security-credentials/")
	return res
}

// rawMetadata GETs path from the metadata endpoint (metadataBase) with an
// IMDSv2 token when one can be had (else without, as the SDK falls back)
// and returns "STATUS BODY", or "ERROR ..." when nothing answered.
func rawMetadata(ctx context.Context, path string) string {
	base := metadataBase(os.Getenv)
	c := &http.Client{Timeout: 10 * time.Second}
	token := ""
	if req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+"/latest/api/token", nil); err == nil {
		req.Header.Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "60")
		if resp, err := c.Do(req); err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				token = string(b)
			}
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return "ERROR " + err.Error()
	}
	if token != "" {
		req.Header.Set("X-Aws-Ec2-Metadata-Token", token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "ERROR " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
}
