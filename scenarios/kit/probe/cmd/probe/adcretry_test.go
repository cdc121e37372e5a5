package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/metadata"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/googleapi"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// TestADCRetryRun: the mode's sequence with its calls replaced: one
// attempt when it works; after a failure, one ping, the wait for the
// metadata server and one more attempt; no second attempt when the server
// never answers.
func TestADCRetryRun(t *testing.T) {
	failed := probe.ADCAttempt{Result: probe.Result{ErrorCode: "NoDefaultCredentials", ErrorMessage: probe.NoDefaultCredentials}, Stage: "credentials"}
	worked := probe.ADCAttempt{Result: probe.Result{OK: true, Output: "hello"}, OnGCE: true}
	refused := errors.New("dial tcp 169.254.169.254:80: connect: connection refused")
	tests := []struct {
		name      string
		attempts  []probe.ADCAttempt
		downPings int // pings refused before the server answers; -1 for never
		want      probe.ADCRun
	}{
		{name: "works at once", attempts: []probe.ADCAttempt{worked}, want: probe.ADCRun{Result: worked.Result, Attempts: []probe.ADCAttempt{worked}}},
		{name: "memoized failure", attempts: []probe.ADCAttempt{failed, failed}, downPings: 3,
			want: probe.ADCRun{Result: failed.Result, Attempts: []probe.ADCAttempt{failed, failed}, MetadataPing: refused.Error()}},
		{name: "retry works", attempts: []probe.ADCAttempt{failed, worked}, downPings: 1,
			want: probe.ADCRun{Result: worked.Result, Attempts: []probe.ADCAttempt{failed, worked}, MetadataPing: refused.Error()}},
		{name: "server never back", attempts: []probe.ADCAttempt{failed}, downPings: -1,
			want: probe.ADCRun{Result: failed.Result, Attempts: []probe.ADCAttempt{failed}, MetadataPing: refused.Error(),
				WaitError: "the metadata server did not answer within 30ms: " + refused.Error()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			calls, pings := 0, 0
			m := adcRetry{
				attempt: func(context.Context) probe.ADCAttempt { calls++; return tc.attempts[calls-1] },
				ping: func(context.Context) error {
					pings++
					if tc.downPings < 0 || pings <= tc.downPings {
						return refused
					}
					return nil
				},
				lookup: func(context.Context) ([]string, error) { return []string{"169.254.169.254"}, nil },
				wait:   30 * time.Millisecond, every: time.Millisecond, out: &out,
			}
			got := m.run(context.Background())
			require.Equal(t, len(tc.attempts), calls, "attempts made")
			if got.WaitedMillis > 0 {
				require.Empty(t, got.WaitError)
				got.WaitedMillis = 0
			} else {
				require.True(t, tc.want.WaitError != "" || len(tc.attempts) == 1, "a second attempt follows a wait")
			}
			tc.want.MetadataDNS = []string{"169.254.169.254"}
			require.Equal(t, tc.want, got)
			printed, err := probe.ParseAttempts(out.String())
			require.NoError(t, err)
			require.Equal(t, tc.attempts, printed, "one attempt line each, in order")
		})
	}
}

// TestRunADCRetryOutput: the last line is the run, also written to the
// termination message; a usage error exits 0 (the kubelet must not start
// it again), a run whose last attempt failed exits 1.
func TestRunADCRetryOutput(t *testing.T) {
	term := filepath.Join(t.TempDir(), "termination-log")
	require.NoError(t, os.WriteFile(term, nil, 0o644))
	var out bytes.Buffer
	require.Equal(t, 0, runADCRetry([]string{"gcp-adc-retry", "bucket"}, &out, term))
	run, err := probe.ParseADCRun(out.String())
	require.ErrorContains(t, err, "no attempt", "a usage error makes no attempt")
	require.Empty(t, run.Attempts)
	msg, err := os.ReadFile(term)
	require.NoError(t, err)
	require.Equal(t, out.String(), string(msg))
	require.Contains(t, string(msg), `"errorCode":"UsageError"`)

	// With a run history, each run appends its line and the termination
	// message holds them all, oldest first.
	hist := filepath.Join(t.TempDir(), "history")
	t.Setenv(probe.RunHistoryEnv, hist)
	for range 2 {
		out.Reset()
		runADCRetry([]string{"gcp-adc-retry", "bucket"}, &out, term)
	}
	msg, err = os.ReadFile(term)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(msg)), "\n")
	require.Len(t, lines, 2, "both runs: %s", msg)
	require.Equal(t, strings.TrimSpace(out.String()), lines[1], "the last run's line last")
	saved, err := os.ReadFile(hist)
	require.NoError(t, err)
	require.Equal(t, string(msg), string(saved))

	out.Reset()
	require.Equal(t, 0, runADCRetry([]string{"gcp-adc-retry", "bucket", "object", "soon"}, &out, filepath.Join(t.TempDir(), "absent")))
	require.Contains(t, out.String(), `SECONDS \"soon\": want a positive number`)
}

// TestGoogleError: each code from the error that causes it, the refused
// connection from a real refused dial.
func TestGoogleError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, dialErr := http.Get("http://" + closed + "/")
	require.Error(t, dialErr)
	tests := []struct {
		err  error
		want string
	}{
		{&googleapi.Error{Code: 403, Message: "no"}, "HTTP403"},
		{fmt.Errorf("google id token: %w", &metadata.Error{Code: 404, Message: "not annotated"}), "Metadata404"},
		{fmt.Errorf("credentials: cannot fetch token: %w", metadata.NotDefinedError("instance/service-accounts/default/token")), "Metadata404"},
		{errors.New(probe.NoDefaultCredentials), "NoDefaultCredentials"},
		{errors.New("dialing: credentials: could not find default credentials. See https://cloud.google.com/docs/authentication/external/set-up-adc for more information"), "NoDefaultCredentials"},
		{dialErr, "ConnectionRefused"},
		{errors.New("oauth2/google: incomplete token received from metadata"), "ClientError"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			r := googleError(tc.err)
			require.Equal(t, tc.want, r.ErrorCode, r.ErrorMessage)
			require.Equal(t, tc.err.Error(), r.ErrorMessage)
			require.False(t, r.OK)
		})
	}
}

// TestADCAttemptWithMetadataHost drives the real SDKs with
// GCE_METADATA_HOST set, so compute/metadata's OnGCE says true without
// probing (and stays so: it is memoized for this test binary): while the
// metadata server refuses connections, FindDefaultCredentials succeeds and
// the first token fails with the refused dial (after compute/metadata's
// retries), in exactly the text probe.MetadataTokenRefused builds; once a
// server answers on that address, the same process gets its token and
// reads the object. The read goes to a local Cloud Storage stand-in
// (STORAGE_EMULATOR_HOST, which the storage client reaches without
// credentials): the token is the part under test.
func TestADCAttemptWithMetadataHost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	host := ln.Addr().String()
	require.NoError(t, ln.Close())
	gcs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/team-a-data/hello.txt" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "hello from team-a-data")
	}))
	t.Cleanup(gcs.Close)
	t.Setenv("GCE_METADATA_HOST", host)
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(gcs.URL, "http://"))
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("HOME", t.TempDir()) // no gcloud well-known file

	ctx := context.Background()
	down := adcAttempt(ctx, "team-a-data", "hello.txt")
	require.False(t, down.OK)
	require.Equal(t, "token", down.Stage, "FindDefaultCredentials found the metadata server's credentials")
	require.True(t, down.OnGCE)
	require.Equal(t, "ConnectionRefused", down.ErrorCode)
	require.Equal(t, probe.MetadataTokenRefused(host, adcScope), down.ErrorMessage)
	require.Error(t, metadataPing(ctx))

	ln, err = net.Listen("tcp", host)
	require.NoError(t, err)
	md := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Metadata-Flavor", "Google")
		switch r.URL.Path {
		case "/":
			fmt.Fprint(w, "computeMetadata/\n")
		case "/computeMetadata/v1/instance/service-accounts/default/token":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"ya29.lab","expires_in":3599,"token_type":"Bearer"}`)
		default:
			http.NotFound(w, r)
		}
	})}
	go func() { _ = md.Serve(ln) }()
	t.Cleanup(func() { _ = md.Close() })
	require.NoError(t, metadataPing(ctx))
	back := adcAttempt(ctx, "team-a-data", "hello.txt")
	require.True(t, back.OK, "%s %s: %s", back.Stage, back.ErrorCode, back.ErrorMessage)
	require.Equal(t, "hello from team-a-data", back.Output)
}
