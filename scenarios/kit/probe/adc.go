package probe

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// AttemptPrefix starts each line `probe gcp-adc-retry` prints per attempt,
// before its final ADCRun line.
const AttemptPrefix = "attempt "

// ADCAttempt is one try of `probe gcp-adc-retry`: Application Default
// Credentials from golang.org/x/oauth2/google.FindDefaultCredentials, their
// first token, and a Cloud Storage read with them. Result says how it ended
// (ErrorCode NoDefaultCredentials, ConnectionRefused, HTTP<status>,
// Metadata<status> or ClientError).
type ADCAttempt struct {
	Result
	// Stage is where it failed: credentials (FindDefaultCredentials),
	// token (the first token from the metadata server) or read; "" when
	// it did not.
	Stage string `json:"stage,omitempty"`
	// OnGCE is cloud.google.com/go/compute/metadata.OnGCE() right after the
	// attempt: the answer FindDefaultCredentials got, memoized for the
	// process.
	OnGCE bool `json:"onGCE"`
	// Millis is how long the attempt took.
	Millis int64 `json:"ms"`
}

// ADCRun is the last line of one run (one container start) of `probe
// gcp-adc-retry`, also written to the container's termination message, so
// a scenario reads a restarted container's earlier run from the pod's
// status. Result is its last attempt's.
type ADCRun struct {
	Result
	Attempts []ADCAttempt `json:"attempts"`
	// MetadataDNS is what metadata.google.internal. resolved to, looked up
	// after the first attempt (before, it would warm the resolver that
	// OnGCE's DNS probe races); MetadataDNSError when it did not.
	MetadataDNS      []string `json:"metadataDNS,omitempty"`
	MetadataDNSError string   `json:"metadataDNSError,omitempty"`
	// MetadataPing is the error of one plain GET of the metadata server's
	// root right after a failed first attempt ("" when it answered).
	MetadataPing string `json:"metadataPing,omitempty"`
	// WaitedMillis is how long the run then waited for the metadata server
	// to answer before it tried again; WaitError says why it gave up.
	WaitedMillis int64  `json:"waitedMs,omitempty"`
	WaitError    string `json:"waitError,omitempty"`
	// Exit is the run's exit code.
	Exit int `json:"exit"`
}

// RunHistoryEnv names a file (on an emptyDir, which outlives the
// container) where each run of gcp-adc-retry appends its line; the
// termination message then holds every run of the pod, oldest first.
const RunHistoryEnv = "IDLAB_RUN_HISTORY"

// ParseADCRuns reads every run line of a termination message written with
// RunHistoryEnv, oldest first.
func ParseADCRuns(msg string) ([]ADCRun, error) {
	var runs []ADCRun
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); !strings.HasPrefix(l, "{") {
			continue
		}
		r, err := ParseADCRun(l)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("probe printed no result: %q", msg)
	}
	return runs, nil
}

// ParseADCRun reads an ADCRun from the probe's output or a termination
// message: its last JSON line.
func ParseADCRun(out string) (ADCRun, error) {
	var r ADCRun
	if err := ParseInto(out, &r); err != nil {
		return ADCRun{}, err
	}
	if len(r.Attempts) == 0 {
		return ADCRun{}, fmt.Errorf("probe run reports no attempt: %q", out)
	}
	return r, nil
}

// ParseAttempts reads the attempt lines of the probe's output so far.
func ParseAttempts(out string) ([]ADCAttempt, error) {
	var as []ADCAttempt
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		l, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), AttemptPrefix)
		if !ok {
			continue
		}
		var a ADCAttempt
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			return nil, fmt.Errorf("probe attempt line %q: %w", l, err)
		}
		as = append(as, a)
	}
	return as, sc.Err()
}

// NoDefaultCredentials is golang.org/x/oauth2/google's error when no
// source of Application Default Credentials applies, on a host where
// metadata.OnGCE() said false (google/default.go,
// FindDefaultCredentialsWithParams, at v0.37.0: the text is fixed).
const NoDefaultCredentials = "google: could not find default credentials. See https://cloud.google.com/docs/authentication/external/set-up-adc for more information"

// MetadataTokenRefused is the error of golang.org/x/oauth2/google's
// metadata token source when the metadata server at host (host:port, or
// an IP for port 80) refuses every connection: compute/metadata's GET of
// instance/service-accounts/default/token with the scopes, after its
// retries (net/http's *url.Error around the refused dial to dialAddr,
// host with port 80 added when it has none).
func MetadataTokenRefused(host string, scopes ...string) string {
	u := "http://" + host + "/computeMetadata/v1/instance/service-accounts/default/token"
	if len(scopes) > 0 {
		u += "?" + url.Values{"scopes": {strings.Join(scopes, ",")}}.Encode()
	}
	dial := host
	if !strings.Contains(host, ":") {
		dial += ":80"
	}
	return fmt.Sprintf("Get %q: dial tcp %s: connect: connection refused", u, dial)
}
