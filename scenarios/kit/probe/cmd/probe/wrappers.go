package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// wrappers are calls that change how the credentials or the client are
// made, then make an ordinary call (see call) with them.
var wrappers = map[string]func(context.Context, []string) probe.Result{
	"assume-role": assumeRole,
	"token-file":  tokenFile,
	"sts-hosts":   stsHosts,
	"hold":        hold,
}

// hold makes the call, prints its result and then keeps running until the
// pod is deleted, as a sidecar does: a native sidecar that exited would be
// restarted with back-off, delaying the containers that wait for it.
func hold(ctx context.Context, args []string) probe.Result {
	cfg, err := config.LoadDefaultConfig(ctx)
	res := probe.Result{ErrorCode: "ConfigError"}
	if err == nil {
		res = call(ctx, cfg, args)
	} else {
		res.ErrorMessage = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	os.Exit(0)
	return res
}

// assumeRole is what an application does to reach another account: the
// default chain's credentials (IRSA's web identity in a pod) call
// sts:AssumeRole through stscreds.NewAssumeRoleProvider, and the call runs
// with the assumed role's credentials.
//
//	assume-role ROLE_ARN [EXTERNAL_ID [DURATION_SECONDS]] [-- CALL...]
//
// "-" for EXTERNAL_ID sends none; no DURATION_SECONDS leaves the SDK's
// default (15 minutes).
func assumeRole(ctx context.Context, args []string) probe.Result {
	opts, rest := args, []string(nil)
	if i := slices.Index(args, "--"); i >= 0 {
		opts, rest = args[:i], args[i+1:]
	}
	if len(opts) < 1 || len(opts) > 3 {
		return probe.Result{ErrorCode: "UsageError", ErrorMessage: "assume-role ROLE_ARN [EXTERNAL_ID [DURATION_SECONDS]] [-- CALL...]"}
	}
	var duration time.Duration
	if len(opts) == 3 {
		n, err := strconv.Atoi(opts[2])
		if err != nil {
			return probe.Result{ErrorCode: "UsageError", ErrorMessage: "DURATION_SECONDS: " + err.Error()}
		}
		duration = time.Duration(n) * time.Second
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
	}
	prov := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), opts[0], func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "idlab-probe"
		if len(opts) >= 2 && opts[1] != "-" {
			o.ExternalID = aws.String(opts[1])
		}
		if duration > 0 {
			o.Duration = duration
		}
	})
	cfg.Credentials = aws.NewCredentialsCache(prov)
	return call(ctx, cfg, rest)
}

// tokenFile reports how the web identity token file looks to this process
// (its mode, owner and group, and this process's uid, gid and groups), and
// whether the process can read it, then makes the call. Output holds the
// report even when the call fails, for kubelet's file modes are the point.
func tokenFile(ctx context.Context, args []string) probe.Result {
	path := os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE")
	groups, _ := os.Getgroups()
	report := fmt.Sprintf("proc=%d:%d groups=%s", os.Getuid(), os.Getgid(), ints(groups))
	if fi, err := os.Stat(path); err != nil {
		report += " stat=" + err.Error()
	} else if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		report += fmt.Sprintf(" mode=%04o owner=%d:%d", fi.Mode().Perm(), st.Uid, st.Gid)
	}
	if _, err := os.ReadFile(path); err != nil {
		report += " read=denied"
	} else {
		report += " read=ok"
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error(), Output: report}
	}
	res := call(ctx, cfg, args)
	res.Output = strings.TrimSpace(report + " " + res.Output)
	return res
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(s, ",") + "]"
}

// stsHosts makes the call and reports every host the SDK sent a request
// to, the web identity exchange at STS included: which STS endpoint the SDK
// chose (regional or global) under AWS_STS_REGIONAL_ENDPOINTS and
// AWS_REGION. Output: "hosts=a,b" then the call's own output.
func stsHosts(ctx context.Context, args []string) probe.Result {
	var mu sync.Mutex
	var hosts []string
	record := middleware.FinalizeMiddlewareFunc("idlabRecordHost", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if req, ok := in.Request.(*smithyhttp.Request); ok {
			mu.Lock()
			if !slices.Contains(hosts, req.URL.Host) {
				hosts = append(hosts, req.URL.Host)
			}
			mu.Unlock()
		}
		return next.HandleFinalize(ctx, in)
	})
	// APIOptions reach every client made from the config, the credential
	// chain's own STS client included.
	cfg, err := config.LoadDefaultConfig(ctx, config.WithAPIOptions([]func(*middleware.Stack) error{
		func(s *middleware.Stack) error { return s.Finalize.Add(record, middleware.After) },
	}))
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
	}
	res := call(ctx, cfg, args)
	mu.Lock()
	defer mu.Unlock()
	res.Output = strings.TrimSpace("hosts=" + strings.Join(hosts, ",") + " " + res.Output)
	return res
}
