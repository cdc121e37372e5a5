package azureimds_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/azureimds"
	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/internal/decisionlog"
)

const (
	tenantID  = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	readerID  = "1a1a1a1a-1a1a-41a1-81a1-1a1a1a1a1a1a"
	teamBID   = "2b2b2b2b-2b2b-42b2-82b2-2b2b2b2b2b2b"
	strangeID = "3c3c3c3c-3c3c-43c3-83c3-3c3c3c3c3c3c" // exists, never assigned
	fixture   = `tenants:
- id: ` + tenantID + `
  managedIdentities:
  - {name: reader, clientId: ` + readerID + `, resourceGroup: MC_rg}
  - {name: team-b, clientId: ` + teamBID + `, resourceGroup: MC_rg}
  - {name: stranger, clientId: ` + strangeID + `, resourceGroup: MC_rg}
`
)

// rid is the resource ID of the fixture's identity name.
func rid(name string) string {
	return "/subscriptions/" + entra.DefaultSubscription + "/resourcegroups/MC_rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is Entra with the fixture and one VM's IMDS server with the named
// identities assigned.
type env struct {
	entra *entra.Handler
	imds  *azureimds.Server
	clock *clock
	log   *decisionlog.Log
}

func newEnv(t *testing.T, assigned ...string) *env {
	t.Helper()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	log := &decisionlog.Log{}
	e, err := entra.New(entra.Options{Now: c.Now, Decisions: log})
	require.NoError(t, err)
	require.NoError(t, e.LoadFixtureYAML("fixture.yaml", []byte(fixture)))
	var ids []string
	for _, a := range assigned {
		ids = append(ids, rid(a))
	}
	s, err := azureimds.NewServer(azureimds.Options{Identities: e, Now: c.Now, VM: "aks-node", Assigned: ids, Decisions: log})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return &env{entra: e, imds: s, clock: c, log: log}
}

// redirect sends requests for 169.254.169.254 to the server: the SDK's
// own requests, unchanged but for the address they reach.
type redirect struct{ to *url.URL }

func (r redirect) Do(req *http.Request) (*http.Response, error) {
	if req.URL.Hostname() == "169.254.169.254" {
		req.URL.Scheme, req.URL.Host = r.to.Scheme, r.to.Host
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (e *env) transport(t *testing.T) redirect {
	t.Helper()
	u, err := url.Parse(e.imds.URL())
	require.NoError(t, err)
	return redirect{to: u}
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
