package main

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/scenarios/kit/probe"
)

// TestS3Refresh: a client that re-assumes only when the token file's mtime
// changes keeps its first session past its expiry and S3 refuses it
// (ExpiredToken, in the decision log too); one that also re-assumes before
// the session expires reads on with a second session. The role clock
// (awsiam.AgeSessions) stands for the 15 minutes at the emulator, and the
// client's clock is moved as much.
func TestS3Refresh(t *testing.T) {
	for _, tc := range []struct {
		name     string
		expiry   bool
		wantCode string
		sessions int
	}{
		{name: "mtime", wantCode: "ExpiredToken", sessions: 1},
		{name: "expiry", expiry: true, sessions: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lab, iss, file := rotationLab(t)
			t.Setenv("AWS_CA_BUNDLE", "") // lab.Client() trusts the lab CA and reaches S3's host names
			tok, err := iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: "ns", ServiceAccount: "app",
				Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: 3600, IssuedAt: lab.Clock.Now()})
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(file, []byte(tok), 0o600))
			var out syncBuffer
			// age moves the client's clock and the role's sessions by the
			// session's length. The expiry-aware client reads its clock at
			// the top of each round, before any request: aging there,
			// inside its clock, leaves no read of the first session in
			// flight when the emulator expires it.
			var aged, agedSessions atomic.Int64
			var ageNext atomic.Bool
			age := func() {
				aged.Store(int64(s3RefreshSession + time.Second))
				agedSessions.Store(int64(lab.IAM.AgeSessions(testRole, s3RefreshSession+time.Second)))
			}
			r := &s3Refresh{expiryAware: tc.expiry, window: time.Minute, tokenFile: file, roleARN: testRole,
				bucket: "probe-data", key: "hello.txt", maxRun: time.Minute, interval: 20 * time.Millisecond, out: &out,
				now: func() time.Time {
					if ageNext.CompareAndSwap(true, false) {
						age()
					}
					return time.Now().Add(time.Duration(aged.Load()))
				},
				configOpts: []func(*config.LoadOptions) error{config.WithHTTPClient(lab.Client()), config.WithRetryMaxAttempts(1)}}
			done := make(chan probe.Result, 1)
			go func() { done <- r.run(context.Background()) }()
			require.Eventually(t, func() bool {
				calls, _ := probe.ParseCalls(out.String())
				return len(calls) >= 3 && calls[len(calls)-1].Op == "GetObject"
			}, 30*time.Second, 10*time.Millisecond, "reads with the first session: %s", out.String())
			if tc.expiry {
				ageNext.Store(true) // at the client's next look at its clock
			} else {
				age() // the mtime client never looks at its clock
			}
			res := <-done
			require.False(t, ageNext.Load(), "the sessions were aged")
			require.EqualValues(t, 1, agedSessions.Load(), "the first session was the role's only one when aged")
			calls, err := probe.ParseCalls(out.String())
			require.NoError(t, err)
			var assumed []probe.Call
			for _, c := range calls {
				if c.Op == "AssumeRoleWithWebIdentity" {
					require.True(t, c.OK, "%+v", c)
					require.NotNil(t, c.Token)
					assumed = append(assumed, c)
				}
			}
			require.Len(t, assumed, tc.sessions, out.String())
			last := calls[len(calls)-1]
			require.Equal(t, "GetObject", last.Op)
			if tc.wantCode == "" {
				require.True(t, res.OK, "%+v", res)
				require.True(t, last.OK)
				require.Equal(t, assumed[1].AccessKeyID, last.AccessKeyID, "read with the second session")
				return
			}
			require.False(t, res.OK)
			require.Equal(t, tc.wantCode, res.ErrorCode, res.ErrorMessage)
			require.Equal(t, "The provided token has expired.", res.ErrorMessage)
			require.Equal(t, assumed[0].AccessKeyID, last.AccessKeyID, "the first session, never refreshed")
			require.NotEmpty(t, last.RequestID)
			ds := lab.IAM.Decisions(awsiam.DecisionFilter{RequestID: last.RequestID})
			require.Len(t, ds, 1)
			require.Equal(t, awsiam.Rejected, ds[0].Effect)
			require.Contains(t, ds[0].Reason, "ExpiredToken: the session's credentials ("+last.AccessKeyID+") expired at ")
		})
	}
}

// TestS3RefreshMtimeChange: a new token file (a new mtime, as the kubelet's
// rotation gives it) makes the mtime client re-assume with the new token.
func TestS3RefreshMtimeChange(t *testing.T) {
	lab, iss, file := rotationLab(t)
	t.Setenv("AWS_CA_BUNDLE", "")
	first := mintTo(t, iss, file, lab.Clock.Now())
	var out syncBuffer
	r := &s3Refresh{window: time.Minute, tokenFile: file, roleARN: testRole, bucket: "probe-data", key: "hello.txt",
		maxRun: 2 * time.Second, interval: 20 * time.Millisecond, out: &out,
		configOpts: []func(*config.LoadOptions) error{config.WithHTTPClient(lab.Client()), config.WithRetryMaxAttempts(1)}}
	done := make(chan probe.Result, 1)
	go func() { done <- r.run(context.Background()) }()
	require.Eventually(t, func() bool {
		calls, _ := probe.ParseCalls(out.String())
		return len(calls) >= 2
	}, 30*time.Second, 10*time.Millisecond)
	time.Sleep(20 * time.Millisecond) // a later mtime
	second := mintTo(t, iss, file, lab.Clock.Now())
	res := <-done
	require.True(t, res.OK, "%+v", res)
	calls, err := probe.ParseCalls(out.String())
	require.NoError(t, err)
	var presented []string
	for _, c := range calls {
		if c.Op == "AssumeRoleWithWebIdentity" {
			presented = append(presented, c.Token.ID)
		}
	}
	require.Equal(t, []string{first.ID, second.ID}, presented)
}

func TestS3RefreshUsage(t *testing.T) {
	for _, args := range [][]string{
		{"s3-refresh", "mtime", "60", "5", "b"},
		{"s3-refresh", "sometimes", "60", "5", "b", "k"},
		{"s3-refresh", "mtime", "x", "5", "b", "k"},
		{"s3-refresh", "expiry", "60", "0", "b", "k"},
	} {
		require.Equal(t, "UsageError", runS3Refresh(args).ErrorCode, "%q", args)
	}
}
