package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/idlab/idlab/scenarios/kit/probe"
)

// The two clients of az-stale, as its call lines name them (probe.Call.Op).
const (
	// ReadOnce presents the federated token it read at start, forever: an
	// application that read AZURE_FEDERATED_TOKEN_FILE once
	// (azure_identity for Rust 0.20 and reqsign before
	// apache/opendal-reqsign#441, behind
	// Azure/azure-workload-identity#693's and risingwavelabs/risingwave#17123's
	// AADSTS700024).
	ReadOnce = "read-once"
	// WorkloadIdentity is azidentity's WorkloadIdentityCredential, which
	// re-reads the file once its copy is 10 minutes old (v1.15.0,
	// workload_identity.go getAssertion).
	WorkloadIdentity = "azidentity"
)

// entraLeeway is how long past its exp Entra still takes an assertion (the
// emulator's jwtverify leeway): the read-once client is refused after
// exp + entraLeeway.
const entraLeeway = 5 * time.Minute

// azStale is one run of `probe az-stale`.
type azStale struct {
	tokenFile, tenant, clientID, scope string
	maxRun, interval                   time.Duration
	out                                io.Writer
	// transport sends the token requests (nil: http.DefaultClient); tests
	// point it at an emulator.
	transport policy.Transporter
}

// runAzStale is `probe az-stale [SECONDS [INTERVAL]]`: every INTERVAL
// seconds (default 30) each client asks Entra for a storage token with a
// claims challenge, so MSAL skips its access-token cache and every round
// presents an assertion; it prints a call line per request (the token
// presented, the token then in the file, Entra's trace ID) and a final
// Result. It ends once the read-once client has been refused and
// azidentity has been let in after that, or at the first token's exp + 5
// min (Entra's leeway) + three intervals, or after SECONDS (default 1200).
func runAzStale(args []string) probe.Result {
	a := &azStale{tokenFile: os.Getenv("AZURE_FEDERATED_TOKEN_FILE"), tenant: os.Getenv("AZURE_TENANT_ID"),
		clientID: os.Getenv("AZURE_CLIENT_ID"), scope: "https://storage.azure.com/.default",
		maxRun: 1200 * time.Second, interval: 30 * time.Second, out: os.Stdout}
	if len(args) > 3 {
		return probe.Result{ErrorCode: "UsageError", ErrorMessage: fmt.Sprintf("unknown call %q", args)}
	}
	for i, d := range []*time.Duration{&a.maxRun, &a.interval} {
		if len(args) > i+1 {
			n, err := strconv.Atoi(args[i+1])
			if err != nil || n <= 0 {
				return probe.Result{ErrorCode: "UsageError", ErrorMessage: fmt.Sprintf("%q is not a number of seconds", args[i+1])}
			}
			*d = time.Duration(n) * time.Second
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.maxRun+time.Minute)
	defer cancel()
	return a.run(ctx)
}

func (a *azStale) run(ctx context.Context) probe.Result {
	if a.tokenFile == "" || a.tenant == "" || a.clientID == "" {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: "AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID and AZURE_CLIENT_ID must be set"}
	}
	first, err := os.ReadFile(a.tokenFile)
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
	}
	firstInfo, err := probe.ParseToken(string(first))
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: "the token file: " + err.Error()}
	}
	once, onceT, err := a.readOnce(string(first))
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
	}
	wiT := &presented{next: a.transport}
	wi, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: wiT}, ClientID: a.clientID, TenantID: a.tenant, TokenFilePath: a.tokenFile})
	if err != nil {
		return probe.Result{ErrorCode: "ConfigError", ErrorMessage: err.Error()}
	}
	clients := []struct {
		name string
		cred azcore.TokenCredential
		seen *presented
	}{{ReadOnce, once, onceT}, {WorkloadIdentity, wi, wiT}}

	start := time.Now()
	end := start.Add(a.maxRun)
	if byExp := time.Unix(firstInfo.Expiry, 0).Add(entraLeeway + 3*a.interval); byExp.Before(end) {
		end = byExp
	}
	var res probe.Result
	var onceRefused bool
	calls, afterRefusal := 0, 0
	for {
		for _, c := range clients {
			calls++
			call := a.call(ctx, c.name, c.cred, c.seen)
			if !call.OK && res.ErrorCode == "" {
				res.ErrorCode, res.ErrorMessage = call.ErrorCode, call.ErrorMessage
			}
			if c.name == ReadOnce && !call.OK {
				onceRefused = true
			}
			if c.name == WorkloadIdentity && call.OK && onceRefused {
				afterRefusal++
			}
		}
		if afterRefusal > 0 || time.Now().Add(a.interval).After(end) {
			break
		}
		select {
		case <-ctx.Done():
			return probe.Result{ErrorCode: "ClientError", ErrorMessage: ctx.Err().Error()}
		case <-time.After(a.interval):
		}
	}
	res.OK = res.ErrorCode == ""
	res.Output = fmt.Sprintf("%d calls in %s; read-once refused: %t; azidentity let in after that: %d", calls, time.Since(start).Round(time.Second), onceRefused, afterRefusal)
	return res
}

// readOnce is the client that read the token once: a ClientAssertionCredential
// whose assertion is always tok.
func (a *azStale) readOnce(tok string) (azcore.TokenCredential, *presented, error) {
	seen := &presented{next: a.transport}
	cred, err := azidentity.NewClientAssertionCredential(a.tenant, a.clientID, func(context.Context) (string, error) { return tok, nil },
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: azcore.ClientOptions{Transport: seen}})
	return cred, seen, err
}

// call asks cred for a token with a claims challenge (MSAL then skips its
// cache) and prints the call line.
func (a *azStale) call(ctx context.Context, name string, cred azcore.TokenCredential, seen *presented) probe.Call {
	c := probe.Call{At: time.Now().UTC(), Op: name}
	if b, err := os.ReadFile(a.tokenFile); err == nil {
		if ti, err := probe.ParseToken(string(b)); err == nil {
			c.FileToken = &ti
		}
	}
	seen.reset()
	claims := fmt.Sprintf(`{"access_token":{"nbf":{"essential":true,"value":"%d"}}}`, time.Now().Unix())
	_, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{a.scope}, Claims: claims})
	c.Token, c.RequestID = seen.last()
	c.OK = err == nil
	if err != nil {
		e := azureError(err)
		c.ErrorCode, c.ErrorMessage = e.ErrorCode, e.ErrorMessage
	}
	line, _ := json.Marshal(c)
	fmt.Fprintf(a.out, "%s%s\n", probe.CallPrefix, line)
	return c
}

// presented is a transport that notes the client assertion of the token
// request it sends and Entra's trace ID (x-ms-request-id) of the answer.
type presented struct {
	next policy.Transporter

	mu    sync.Mutex
	token *probe.TokenInfo
	trace string
}

func (p *presented) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && strings.HasSuffix(req.URL.Path, "/token") {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil {
			if ti, err := probe.ParseToken(form.Get("client_assertion")); err == nil {
				p.mu.Lock()
				p.token = &ti
				p.mu.Unlock()
			}
		}
	}
	next := p.next
	if next == nil {
		next = http.DefaultClient
	}
	resp, err := next.Do(req)
	if err == nil && strings.HasSuffix(req.URL.Path, "/token") {
		p.mu.Lock()
		p.trace = resp.Header.Get("x-ms-request-id")
		p.mu.Unlock()
	}
	return resp, err
}

func (p *presented) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.token, p.trace = nil, ""
}

func (p *presented) last() (*probe.TokenInfo, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.token, p.trace
}
