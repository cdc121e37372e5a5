package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// s3Refresh is one run of `probe s3-refresh`: an application that trades
// the web identity token for STS credentials by hand and keeps them in a
// plain struct, as cubestore does with its fork of rust-s3
// (cube-js/cube#11622: spawn_creds_refresh_loop in remotefs/s3.rs), and
// reads an object with them.
type s3Refresh struct {
	// expiryAware also re-assumes once the session has less than window
	// left (the fix proposed in cube-js/cube#11808); without it the client
	// re-assumes only when the token file's mtime changes (cube's loop).
	expiryAware bool
	window      time.Duration

	tokenFile, roleARN string
	bucket, key        string
	maxRun, interval   time.Duration
	out                io.Writer
	// configOpts adds load options (tests point the SDK at an emulator).
	configOpts []func(*config.LoadOptions) error
	// now is the client's clock for the session's expiry; nil: time.Now.
	now func() time.Time
}

// s3RefreshSession is the STS session the client asks for: the STS
// minimum, so the row sees it expire in 15 minutes (cube asks for STS's
// default hour).
const s3RefreshSession = 900 * time.Second

// runS3Refresh is `probe s3-refresh mtime|expiry SECONDS INTERVAL BUCKET
// KEY`: every INTERVAL seconds it stats AWS_WEB_IDENTITY_TOKEN_FILE
// (following the symlink, as Rust's std::fs::metadata does), calls
// sts:AssumeRoleWithWebIdentity with the file's token for AWS_ROLE_ARN when
// it has no credentials yet, when the file's mtime changed, or (expiry)
// when the session has less than a minute left, then s3:GetObject
// BUCKET/KEY with the credentials it holds. It prints a call line per AWS
// call and a final Result, and ends at the first failed call, once expiry
// mode has read the object with a second session, or after SECONDS.
func runS3Refresh(args []string) probe.Result {
	usage := probe.Result{ErrorCode: "UsageError", ErrorMessage: "s3-refresh mtime|expiry SECONDS INTERVAL BUCKET KEY"}
	if len(args) != 6 || (args[1] != "mtime" && args[1] != "expiry") {
		return usage
	}
	r := &s3Refresh{expiryAware: args[1] == "expiry", window: time.Minute, tokenFile: os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE"),
		roleARN: os.Getenv("AWS_ROLE_ARN"), bucket: args[4], key: args[5], out: os.Stdout}
	for i, d := range []*time.Duration{&r.maxRun, &r.interval} {
		n, err := strconv.Atoi(args[i+2])
		if err != nil || n <= 0 {
			return probe.Result{ErrorCode: "UsageError", ErrorMessage: fmt.Sprintf("%q is not a number of seconds", args[i+2])}
		}
		*d = time.Duration(n) * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.maxRun+time.Minute)
	defer cancel()
	return r.run(ctx)
}

func (r *s3Refresh) run(ctx context.Context) probe.Result {
	if r.tokenFile == "" || r.roleARN == "" {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN must be set"}
	}
	cfg, err := config.LoadDefaultConfig(ctx, r.configOpts...)
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
	}
	stsc := sts.NewFromConfig(cfg, func(o *sts.Options) { o.Credentials = aws.AnonymousCredentials{} })
	var creds *aws.Credentials
	var mtime time.Time
	var res probe.Result
	start := time.Now()
	calls, sessions, readsWithLatest := 0, 0, 0
	for {
		fi, statErr := os.Stat(r.tokenFile)
		why := ""
		switch {
		case creds == nil:
			why = "start"
		case statErr == nil && !fi.ModTime().Equal(mtime):
			why = "token file changed"
		case r.expiryAware && creds.Expires.Sub(r.clock()) < r.window:
			why = "session expires soon"
		}
		failed := false
		if why != "" {
			calls++
			var c *aws.Credentials
			if c, err = r.assume(ctx, stsc, why); err == nil {
				creds, sessions, readsWithLatest = c, sessions+1, 0
				if statErr == nil {
					mtime = fi.ModTime()
				}
			} else {
				res, failed = awsError(err), true
			}
		}
		if creds != nil && !failed {
			calls++
			if err := r.get(ctx, cfg, *creds); err != nil {
				res, failed = awsError(err), true
			} else {
				readsWithLatest++
			}
		}
		if failed || (r.expiryAware && sessions >= 2 && readsWithLatest > 0) {
			break
		}
		if time.Now().Add(r.interval).After(start.Add(r.maxRun)) {
			break
		}
		select {
		case <-ctx.Done():
			return probe.Result{ErrorCode: "ClientError", ErrorMessage: ctx.Err().Error()}
		case <-time.After(r.interval):
		}
	}
	res.OK = res.ErrorCode == ""
	res.Output = fmt.Sprintf("%d calls in %s, %d sessions", calls, time.Since(start).Round(time.Second), sessions)
	return res
}

func (r *s3Refresh) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// assume trades the token in the file for a session and prints the call.
func (r *s3Refresh) assume(ctx context.Context, stsc *sts.Client, why string) (*aws.Credentials, error) {
	c := probe.Call{At: time.Now().UTC(), Op: "AssumeRoleWithWebIdentity"}
	b, err := os.ReadFile(r.tokenFile)
	if err == nil {
		if ti, perr := probe.ParseToken(string(b)); perr == nil {
			c.Token = &ti
		}
		var out *sts.AssumeRoleWithWebIdentityOutput
		out, err = stsc.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(r.roleARN),
			RoleSessionName: aws.String("s3-refresh"), WebIdentityToken: aws.String(string(b)), DurationSeconds: aws.Int32(int32(s3RefreshSession / time.Second))})
		if err == nil {
			c.RequestID, _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
			if out.Credentials == nil {
				err = errors.New("AssumeRoleWithWebIdentity returned no credentials")
			} else {
				c.AccessKeyID = aws.ToString(out.Credentials.AccessKeyId)
				r.print(c, nil, why)
				return &aws.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
					SessionToken: aws.ToString(out.Credentials.SessionToken), CanExpire: true, Expires: aws.ToTime(out.Credentials.Expiration)}, nil
			}
		}
	}
	r.print(c, err, why)
	return nil, err
}

// get reads the object with creds and prints the call.
func (r *s3Refresh) get(ctx context.Context, cfg aws.Config, creds aws.Credentials) error {
	c := probe.Call{At: time.Now().UTC(), Op: "GetObject", AccessKeyID: creds.AccessKeyID}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.Credentials = credentials.StaticCredentialsProvider{Value: creds}
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(r.key)})
	if err == nil {
		c.RequestID, _ = awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		_, err = io.Copy(io.Discard, io.LimitReader(out.Body, 1<<20))
		_ = out.Body.Close()
	}
	r.print(c, err, "")
	return err
}

// print writes c's line with err's code and message; why, for a refresh,
// goes in the output field of the line.
func (r *s3Refresh) print(c probe.Call, err error, why string) {
	c.OK = err == nil
	if err != nil {
		e := awsError(err)
		c.ErrorCode, c.ErrorMessage, c.RequestID = e.ErrorCode, e.ErrorMessage, e.RequestID
	}
	if b, rerr := os.ReadFile(r.tokenFile); rerr == nil {
		if ti, perr := probe.ParseToken(string(b)); perr == nil {
			c.FileToken = &ti
		}
	}
	line, _ := json.Marshal(struct {
		probe.Call
		Why string `json:"why,omitempty"`
	}{c, why})
	fmt.Fprintf(r.out, "%s%s\n", probe.CallPrefix, line)
}
