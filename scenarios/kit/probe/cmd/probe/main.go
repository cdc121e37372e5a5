// Command probe runs inside a scenario pod: it builds AWS credentials from
// the default chain, exactly as an unmodified application would (web
// identity token file, container credentials, IMDS ...), makes one call and
// prints one JSON line with the outcome. It exits 0 so the scenario reads
// the result from the log, but for gcp-adc-retry, which exits 1 when it
// gives up so that the kubelet starts it again.
//
//	probe                          sts:GetCallerIdentity
//	probe s3-get BUCKET KEY        s3:GetObject, the object's text in output
//	probe s3-put BUCKET KEY TEXT   s3:PutObject
//	probe s3-get-path BUCKET KEY, s3-put-path BUCKET KEY TEXT  the same, path-style (the SDK's default is virtual-hosted)
//	probe sns-publish TOPICARN MSG sns:Publish, the MessageId in output
//	probe gcp-email                the Google service account the metadata server names
//	probe gcs-get BUCKET OBJECT    Cloud Storage read with Application Default Credentials
//	probe gcp-adc-retry BUCKET OBJECT [SECONDS]  FindDefaultCredentials, its first token and a Cloud Storage
//	                                          read; on failure, once more when the metadata server answers (within
//	                                          SECONDS); exits 1 when the last attempt failed (adcretry.go)
//	probe imds-creds               GetCallerIdentity; on failure, the metadata endpoint's own answer
//	probe gcp-to-aws ROLE BUCKET KEY [AUDIENCE]  a Google ID token (audience sts.amazonaws.com) as AWS web identity, then s3:GetObject
//	probe assume-role ROLE [EXTID [SECONDS]] [-- CALL...]  sts:AssumeRole from the default chain's session, then CALL
//	probe token-file [CALL...]     the web identity token file's mode and owner as this process sees them, then CALL
//	probe sts-hosts [CALL...]      CALL, with the hosts the SDK sent requests to (STS included) in output
//	probe hold [CALL...]           CALL, then run on until killed (a sidecar)
//	probe rotate [SECONDS [INTERVAL]]         GetCallerIdentity every INTERVAL s, re-reading the token file
//	                                          at each refresh, until a second token is used, for up to
//	                                          SECONDS or the first token's exp + 2 min (rotate.go)
//	probe rotate-cached [SECONDS [INTERVAL]]  the same, presenting the token read once at start
//	probe s3-refresh mtime|expiry SECONDS INTERVAL BUCKET KEY  s3:GetObject every INTERVAL s with STS
//	                                          credentials re-assumed only when the token file's mtime changes, or
//	                                          also before they expire (s3refresh.go)
//	probe az-stale [SECONDS [INTERVAL]]       an Entra token every INTERVAL s for a client that read the
//	                                          federated token once and for azidentity (azstale.go)
//	probe az-token SCOPE           an Entra access token with azidentity's WorkloadIdentityCredential
//	probe az-blob-get ACCOUNT CONTAINER BLOB  Azure Get Blob with that credential
//	probe az-mi-blob-get ACCOUNT CONTAINER BLOB [CLIENT_ID]  Get Blob with ManagedIdentityCredential (IMDS; AAD Pod Identity)
//	probe imds-token RESOURCE [CLIENT_ID]     one token request to 169.254.169.254, "STATUS [aud= appid= tid=]" in output
//	probe storm BUCKET OWNKEY OTHERKEY  credentials from the default chain, then s3:GetObject of OWNKEY and of
//	                                    OTHERKEY, each step timed (storm.go; scenarios/storm)
//	probe storm-gcs BUCKET OBJECT OTHERBUCKET OTHEROBJECT  the same with Application Default Credentials'
//	                                    first token and Cloud Storage reads (stormclouds.go)
//	probe storm-blob ACCOUNT CONTAINER BLOB OTHERCONTAINER OTHERBLOB  the same with WorkloadIdentityCredential's
//	                                    GetToken and Get Blob (stormclouds.go)
//	probe http METHOD URL [BODY]   one anonymous HTTP request; "STATUS CODE" in output (httpcall.go)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

func main() {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "rotate") {
		_ = json.NewEncoder(os.Stdout).Encode(runRotation(os.Args[1:]))
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "az-stale" {
		_ = json.NewEncoder(os.Stdout).Encode(runAzStale(os.Args[1:]))
		return
	}
	if len(os.Args) > 1 {
		if f, ok := storms[os.Args[1]]; ok {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			_ = json.NewEncoder(os.Stdout).Encode(f(ctx, os.Args[1:]))
			return
		}
	}
	if len(os.Args) > 1 && os.Args[1] == "gcp-adc-retry" {
		os.Exit(runADCRetry(os.Args[1:], os.Stdout, terminationLog))
	}
	if len(os.Args) > 1 && os.Args[1] == "s3-refresh" {
		_ = json.NewEncoder(os.Stdout).Encode(runS3Refresh(os.Args[1:]))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := run(ctx)
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

// storms are the identity storm's modes, by name (scenarios/storm).
var storms = map[string]func(context.Context, []string) probe.StormResult{
	"storm":      runStorm,
	"storm-gcs":  runStormGCS,
	"storm-blob": runStormBlob,
}

func run(ctx context.Context) probe.Result {
	if len(os.Args) == 2 && os.Args[1] == "imds-creds" {
		return imdsCreds(ctx)
	}
	if (len(os.Args) == 5 || len(os.Args) == 6) && os.Args[1] == "gcp-to-aws" {
		audience := "sts.amazonaws.com"
		if len(os.Args) == 6 {
			audience = os.Args[5]
		}
		return awsResult(gcpToAWS(ctx, os.Args[2], os.Args[3], os.Args[4], audience))
	}
	if len(os.Args) > 1 && os.Args[1] == "http" {
		return httpCall(ctx, os.Args[2:])
	}
	if len(os.Args) > 1 && os.Args[1] == "az-mi-blob-get" {
		return runAzureMI(ctx, os.Args[1:])
	}
	if len(os.Args) > 1 && os.Args[1] == "imds-token" {
		return imdsToken(ctx, os.Args[2:])
	}
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "az-") {
		return runAzure(ctx, os.Args[1:])
	}
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "gc") {
		return runGoogle(ctx, os.Args[1:])
	}
	if len(os.Args) > 1 {
		if f, ok := wrappers[os.Args[1]]; ok {
			return f(ctx, os.Args[2:])
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
	}
	return call(ctx, cfg, os.Args[1:])
}

// call makes one AWS call with cfg's credentials (no args:
// sts:GetCallerIdentity).
func call(ctx context.Context, cfg aws.Config, args []string) probe.Result {
	want := func(n int) bool { return len(args) == n+1 }
	var res probe.Result
	var md middleware.Metadata
	var err error
	switch {
	case len(args) == 0:
		var out *sts.GetCallerIdentityOutput
		if out, err = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
			res = probe.Result{Arn: aws.ToString(out.Arn), Account: aws.ToString(out.Account), UserID: aws.ToString(out.UserId)}
			md = out.ResultMetadata
		}
	case (args[0] == "s3-get" || args[0] == "s3-get-path") && want(2):
		var out *s3.GetObjectOutput
		if out, err = s3Client(cfg, args[0]).GetObject(ctx, &s3.GetObjectInput{Bucket: &args[1], Key: &args[2]}); err == nil {
			md = out.ResultMetadata
			var b []byte
			b, err = io.ReadAll(io.LimitReader(out.Body, 1<<20))
			_ = out.Body.Close()
			res.Output = string(b)
		}
	case (args[0] == "s3-put" || args[0] == "s3-put-path") && want(3):
		var out *s3.PutObjectOutput
		if out, err = s3Client(cfg, args[0]).PutObject(ctx, &s3.PutObjectInput{Bucket: &args[1], Key: &args[2], Body: strings.NewReader(args[3])}); err == nil {
			md = out.ResultMetadata
		}
	case args[0] == "sns-publish" && want(2):
		var out *sns.PublishOutput
		if out, err = sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: &args[1], Message: &args[2]}); err == nil {
			res.Output = aws.ToString(out.MessageId)
			md = out.ResultMetadata
		}
	default:
		return probe.Result{ErrorCode: "UsageError", ErrorMessage: fmt.Sprintf("unknown call %q", args)}
	}
	if err != nil {
		return awsError(err)
	}
	res.OK, res.RequestID = true, requestID(md, nil)
	return res
}

// s3Client is the S3 client of call: path-style for the -path calls,
// else the SDK's default, virtual-hosted.
func s3Client(cfg aws.Config, call string) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = strings.HasSuffix(call, "-path") })
}

// requestID is the AWS request ID of a call: from its result's metadata,
// or from the response its error carries (the credential provider's, when
// getting credentials failed).
func requestID(md middleware.Metadata, err error) string {
	if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok && id != "" {
		return id
	}
	var re interface{ ServiceRequestID() string }
	if errors.As(err, &re) {
		return re.ServiceRequestID()
	}
	return ""
}

// awsError reports an AWS API error by its code, anything else as
// ClientError, with the request ID of the response it came from.
func awsError(err error) probe.Result {
	r := probe.Result{ErrorCode: "ClientError", ErrorMessage: err.Error(), RequestID: requestID(middleware.Metadata{}, err)}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		r.ErrorCode, r.ErrorMessage = ae.ErrorCode(), ae.ErrorMessage()
	}
	return r
}

// awsResult turns a call's output and error into a result.
func awsResult(out string, err error) probe.Result {
	if err != nil {
		return awsError(err)
	}
	return probe.Result{OK: true, Output: out}
}
