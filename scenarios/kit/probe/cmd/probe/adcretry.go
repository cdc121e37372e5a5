package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"cloud.google.com/go/compute/metadata"
	"cloud.google.com/go/storage"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// terminationLog is where the kubelet reads a container's termination
// message (the default terminationMessagePath).
const terminationLog = "/dev/termination-log"

// adcScope is the scope gcp-adc-retry asks its token for.
const adcScope = storage.ScopeReadOnly

// adcRetry is `probe gcp-adc-retry BUCKET OBJECT [SECONDS]`, an application
// that needs Google credentials at start, as in
// googleapis/google-cloud-go#14349: it finds Application Default
// Credentials with golang.org/x/oauth2/google.FindDefaultCredentials,
// fetches their first token and reads BUCKET/OBJECT with them. When that
// fails it pings the metadata server once, waits up to SECONDS (default
// 240) for it to answer and tries once more in the same process, the
// application-level retry the issue calls the only workaround. It prints a
// probe.AttemptPrefix line per attempt and a probe.ADCRun last, which it
// also writes to the termination message, and exits 1 when its last
// attempt failed, as a job that gives up does, so that a pod with
// restartPolicy OnFailure runs it again (a new process) in the same pod.
type adcRetry struct {
	attempt func(context.Context) probe.ADCAttempt
	// ping asks the metadata server's root once: nil when it answered as
	// the metadata server.
	ping   func(context.Context) error
	lookup func(context.Context) ([]string, error)
	// wait bounds the wait for the metadata server; every is its pace.
	wait, every time.Duration
	out         io.Writer
}

// run makes the attempts and returns the run's record.
func (a adcRetry) run(ctx context.Context) probe.ADCRun {
	first := a.attempt(ctx)
	a.print(first)
	run := probe.ADCRun{Attempts: []probe.ADCAttempt{first}}
	// Looked up only now: a lookup before the first attempt would warm the
	// resolver that OnGCE's DNS probe races against its HTTP probe.
	addrs, err := a.lookup(ctx)
	run.MetadataDNS = addrs
	if err != nil {
		run.MetadataDNSError = err.Error()
	}
	if !first.OK {
		if err := a.ping(ctx); err != nil {
			run.MetadataPing = err.Error()
		}
		start := time.Now()
		if err := a.await(ctx); err != nil {
			run.WaitError = err.Error()
		} else {
			run.WaitedMillis = max(time.Since(start).Milliseconds(), 1)
			again := a.attempt(ctx)
			a.print(again)
			run.Attempts = append(run.Attempts, again)
		}
	}
	run.Result = run.Attempts[len(run.Attempts)-1].Result
	return run
}

// await pings the metadata server every a.every until it answers, for up
// to a.wait.
func (a adcRetry) await(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, a.wait)
	defer cancel()
	for {
		err := a.ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the metadata server did not answer within %s: %w", a.wait, err)
		case <-time.After(a.every):
		}
	}
}

func (a adcRetry) print(at probe.ADCAttempt) {
	b, _ := json.Marshal(at)
	fmt.Fprintf(a.out, "%s%s\n", probe.AttemptPrefix, b)
}

// runADCRetry runs the mode with args (gcp-adc-retry BUCKET OBJECT
// [SECONDS]), prints to out, writes its last line to the termination
// message at termPath when that file exists, and returns the exit code.
func runADCRetry(args []string, out io.Writer, termPath string) int {
	m := adcRetry{ping: metadataPing, lookup: lookupMetadataHost, wait: 240 * time.Second, every: 500 * time.Millisecond, out: out}
	var run probe.ADCRun
	switch {
	case len(args) == 3 || len(args) == 4:
		if len(args) == 4 {
			s, err := strconv.Atoi(args[3])
			if err != nil || s < 1 {
				run.Result = probe.Result{ErrorCode: "UsageError", ErrorMessage: fmt.Sprintf("SECONDS %q: want a positive number", args[3])}
				break
			}
			m.wait = time.Duration(s) * time.Second
		}
		bucket, object := args[1], args[2]
		m.attempt = func(ctx context.Context) probe.ADCAttempt { return adcAttempt(ctx, bucket, object) }
		run = m.run(context.Background())
	default:
		run.Result = probe.Result{ErrorCode: "UsageError", ErrorMessage: fmt.Sprintf("unknown call %q", args)}
	}
	code := 1
	if run.ErrorCode == "UsageError" || run.OK {
		code = 0
	}
	run.Exit = code
	b, _ := json.Marshal(run)
	fmt.Fprintf(out, "%s\n", b)
	msg := append(b, '\n')
	if hist := os.Getenv(probe.RunHistoryEnv); hist != "" {
		// The runs before this one, left by earlier starts of the
		// container in the pod's emptyDir: the termination message then
		// holds every run, which the pod's status keeps after it ends
		// (it may not keep the earlier run's own lastState).
		prev, err := os.ReadFile(hist)
		if err != nil && !os.IsNotExist(err) {
			fmt.Fprintf(os.Stderr, "run history: %v\n", err)
		}
		msg = append(prev, msg...)
		if err := os.WriteFile(hist, msg, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "run history: %v\n", err)
		}
	}
	if _, err := os.Stat(termPath); err == nil {
		if err := os.WriteFile(termPath, msg, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "termination message: %v\n", err)
		}
	}
	return code
}

// adcAttempt is one try: ADC, the first token, the read.
func adcAttempt(ctx context.Context, bucket, object string) probe.ADCAttempt {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	start := time.Now()
	stage, out, err := adcRead(ctx, bucket, object)
	at := probe.ADCAttempt{Millis: time.Since(start).Milliseconds(), OnGCE: metadata.OnGCE()}
	if err != nil {
		at.Result, at.Stage = googleError(err), stage
		return at
	}
	at.OK, at.Output = true, out
	return at
}

// adcRead is what the application does at start; it returns the stage it
// failed at with the error.
func adcRead(ctx context.Context, bucket, object string) (stage, out string, err error) {
	creds, err := google.FindDefaultCredentials(ctx, adcScope)
	if err != nil {
		return "credentials", "", err
	}
	if _, err := creds.TokenSource.Token(); err != nil {
		return "token", "", err
	}
	c, err := storage.NewClient(ctx, option.WithCredentials(creds))
	if err != nil {
		return "read", "", err
	}
	defer c.Close()
	r, err := c.Bucket(bucket).Object(object).NewReader(ctx)
	if err != nil {
		return "read", "", err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return "read", "", err
	}
	return "", string(b), nil
}

// metadataHost is where compute/metadata sends its requests:
// GCE_METADATA_HOST, else 169.254.169.254.
func metadataHost() string {
	if h := os.Getenv("GCE_METADATA_HOST"); h != "" {
		return h
	}
	return "169.254.169.254"
}

// metadataPing GETs the metadata server's root once, as a readiness check
// of an init container would.
func metadataPing(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+metadataHost()+"/", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Metadata-Flavor") != "Google" {
		return fmt.Errorf("GET / answered %d, Metadata-Flavor %q", resp.StatusCode, resp.Header.Get("Metadata-Flavor"))
	}
	return nil
}

// lookupMetadataHost resolves metadata.google.internal. as OnGCE's DNS
// probe does.
func lookupMetadataHost(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return (&net.Resolver{}).LookupHost(ctx, "metadata.google.internal.")
}
