package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// Rotation settings: real SDK knobs, so the SDK goes back to STS often
// enough to show which token it presents.
const (
	// sessionDuration is the STS minimum (DurationSeconds 900).
	sessionDuration = 900 * time.Second
	// expiryWindow makes the credentials cache treat a 15-minute session as
	// over 60 s after it was issued, so the SDK re-assumes the role every
	// minute with whatever token its retriever gives it.
	expiryWindow = sessionDuration - time.Minute
	// expiryGrace is how long past the first token's exp a run may go on:
	// one credentials refresh (every minute) and a call interval with room,
	// enough for the SDK to present the token the kubelet wrote just
	// before exp, or for the caching SDK to be refused the expired one.
	expiryGrace = 2 * time.Minute
)

// rotation is one run of `probe rotate` or `probe rotate-cached`.
type rotation struct {
	// cached makes the SDK present the token it read at start forever, as
	// an application that reads AWS_WEB_IDENTITY_TOKEN_FILE once and passes
	// the bytes on (aws/aws-sdk-js-v3#2297, elastic/elasticsearch#101828).
	cached    bool
	tokenFile string
	maxRun    time.Duration
	interval  time.Duration
	out       io.Writer
	// window is the credentials cache's ExpiryWindow; 0 means expiryWindow.
	window time.Duration
	// configOpts adds load options (tests point the SDK at an emulator).
	configOpts []func(*config.LoadOptions) error

	mu     sync.Mutex
	traded map[string]bool // IDs of the tokens STS accepted
}

// runRotation is `probe rotate|rotate-cached [SECONDS [INTERVAL]]`: it calls
// sts:GetCallerIdentity every INTERVAL seconds (default 20) through the
// default credential chain, printing one call line per AWS call (the SDK's
// own AssumeRoleWithWebIdentity refreshes included) and a final Result.
// rotate stops once a second token has been traded and used, rotate-cached
// at the first failure: events, not a time. Either stops anyway when the
// next call would start after the token file's first exp + expiryGrace, or
// after SECONDS (default 600), whichever comes first.
func runRotation(args []string) probe.Result {
	r := &rotation{cached: args[0] == "rotate-cached", tokenFile: os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE"),
		maxRun: 600 * time.Second, interval: 20 * time.Second, out: os.Stdout}
	if (args[0] != "rotate" && !r.cached) || len(args) > 3 {
		return probe.Result{ErrorCode: "UsageError", ErrorMessage: fmt.Sprintf("unknown call %q", args)}
	}
	for i, d := range []*time.Duration{&r.maxRun, &r.interval} {
		if len(args) > i+1 {
			n, err := strconv.Atoi(args[i+1])
			if err != nil || n <= 0 {
				return probe.Result{ErrorCode: "UsageError", ErrorMessage: fmt.Sprintf("%q is not a number of seconds", args[i+1])}
			}
			*d = time.Duration(n) * time.Second
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.maxRun+time.Minute)
	defer cancel()
	return r.run(ctx)
}

func (r *rotation) run(ctx context.Context) probe.Result {
	if r.tokenFile == "" {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: "AWS_WEB_IDENTITY_TOKEN_FILE is not set"}
	}
	window := r.window
	if window == 0 {
		window = expiryWindow
	}
	opts := []func(*config.LoadOptions) error{
		config.WithAPIOptions([]func(*middleware.Stack) error{r.observe}),
		config.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = window }),
	}
	var retriever stscreds.IdentityTokenRetriever
	if r.cached {
		b, err := os.ReadFile(r.tokenFile)
		if err != nil {
			return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
		}
		retriever = onceRead(b)
	}
	opts = append(opts, config.WithWebIdentityRoleCredentialOptions(func(o *stscreds.WebIdentityRoleOptions) {
		o.Duration = sessionDuration
		if retriever != nil {
			o.TokenRetriever = retriever
		}
	}))
	cfg, err := config.LoadDefaultConfig(ctx, append(opts, r.configOpts...)...)
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
	}
	client := sts.NewFromConfig(cfg)
	start := time.Now()
	deadline := r.deadline(start)
	var res probe.Result
	calls := 0
	for {
		calls++
		out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			if res.ErrorCode == "" {
				res = awsError(err)
			}
			if r.cached {
				break
			}
		} else if res.Arn == "" {
			res.Arn, res.Account, res.UserID = aws.ToString(out.Arn), aws.ToString(out.Account), aws.ToString(out.UserId)
		}
		if !r.cached && r.tokensAccepted() >= 2 && err == nil {
			break // the second token was traded and its credentials used
		}
		if time.Now().Add(r.interval).After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return probe.Result{ErrorCode: "ClientError", ErrorMessage: ctx.Err().Error()}
		case <-time.After(r.interval):
		}
	}
	res.OK = res.ErrorCode == ""
	res.Output = fmt.Sprintf("%d calls in %s, %d tokens accepted", calls, time.Since(start).Round(time.Second), r.tokensAccepted())
	return res
}

// deadline is when the run must end: start + maxRun, or sooner the exp of
// the token now in the file + expiryGrace (the kubelet renews before exp,
// so by then the event the run waits for has come or will not).
func (r *rotation) deadline(start time.Time) time.Time {
	end := start.Add(r.maxRun)
	b, err := os.ReadFile(r.tokenFile)
	if err != nil {
		return end
	}
	ti, err := probe.ParseToken(string(b))
	if err != nil {
		return end
	}
	if byExp := time.Unix(ti.Expiry, 0).Add(expiryGrace); byExp.Before(end) {
		return byExp
	}
	return end
}

// onceRead is the token an application read once and keeps presenting.
type onceRead []byte

func (b onceRead) GetIdentityToken() ([]byte, error) { return b, nil }

// observe adds the middleware that prints a call line per operation.
func (r *rotation) observe(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("idlabObserve", r.record), middleware.Before); err != nil {
		return err
	}
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("idlabSigner", signer), middleware.After)
}

type callKey struct{}

// record runs one operation and prints its call line.
func (r *rotation) record(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	c := &probe.Call{At: time.Now().UTC(), Op: middleware.GetOperationName(ctx)}
	if p, ok := in.Parameters.(*sts.AssumeRoleWithWebIdentityInput); ok {
		if ti, err := probe.ParseToken(aws.ToString(p.WebIdentityToken)); err == nil {
			c.Token = &ti
		}
	} else if b, err := os.ReadFile(r.tokenFile); err == nil {
		if ti, err := probe.ParseToken(string(b)); err == nil {
			c.FileToken = &ti
		}
	}
	out, md, err := next.HandleInitialize(middleware.WithStackValue(ctx, callKey{}, c), in)
	c.RequestID = requestID(md, err)
	c.OK = err == nil
	if err != nil {
		e := awsError(err)
		c.ErrorCode, c.ErrorMessage = e.ErrorCode, e.ErrorMessage
	}
	line, _ := json.Marshal(c)
	fmt.Fprintf(r.out, "%s%s\n", probe.CallPrefix, line)
	if c.OK && c.Token != nil {
		r.mu.Lock()
		if r.traded == nil {
			r.traded = map[string]bool{}
		}
		r.traded[c.Token.ID] = true
		r.mu.Unlock()
	}
	return out, md, err
}

func (r *rotation) tokensAccepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.traded)
}

// signer notes the access key ID that signed the request.
func signer(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	if c, ok := middleware.GetStackValue(ctx, callKey{}).(*probe.Call); ok {
		if req, ok := in.Request.(*smithyhttp.Request); ok {
			if _, cred, found := strings.Cut(req.Header.Get("Authorization"), "Credential="); found {
				c.AccessKeyID, _, _ = strings.Cut(cred, "/")
			}
		}
	}
	return next.HandleFinalize(ctx, in)
}
