package main

import (
	"context"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// runStorm is `probe storm BUCKET OWNKEY OTHERKEY`: the default chain's
// credentials retrieved once (for IRSA, the web identity exchange at STS),
// then s3:GetObject of OWNKEY and of OTHERKEY with them, each step timed.
// A failed exchange skips the reads, which would only repeat it.
func runStorm(ctx context.Context, args []string) probe.StormResult {
	if len(args) != 4 {
		usage := probe.Result{ErrorCode: "UsageError", ErrorMessage: "storm BUCKET OWNKEY OTHERKEY"}
		return probe.StormResult{Exchange: usage}
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return probe.StormResult{Exchange: probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}}
	}
	return storm(ctx, cfg, args[1], args[2], args[3])
}

// storm is runStorm with cfg's credentials.
func storm(ctx context.Context, cfg aws.Config, bucket, own, other string) probe.StormResult {
	var out probe.StormResult
	start := time.Now()
	creds, err := cfg.Credentials.Retrieve(ctx)
	out.ExchangeMillis = millisSince(start)
	if err != nil {
		out.Exchange = awsError(err)
		return out
	}
	out.Exchange = probe.Result{OK: true, UserID: creds.AccessKeyID}
	cfg.Credentials = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }))
	client := s3.NewFromConfig(cfg)
	get := func(key string) (probe.Result, float64) {
		start := time.Now()
		o, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
		if err != nil {
			return awsError(err), millisSince(start)
		}
		b, err := io.ReadAll(io.LimitReader(o.Body, 1<<20))
		_ = o.Body.Close()
		ms := millisSince(start)
		if err != nil {
			return probe.Result{ErrorCode: "ClientError", ErrorMessage: err.Error()}, ms
		}
		return probe.Result{OK: true, Output: string(b), RequestID: requestID(o.ResultMetadata, nil)}, ms
	}
	out.Own, out.OwnMillis = get(own)
	out.Other, out.OtherMillis = get(other)
	return out
}

func millisSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
