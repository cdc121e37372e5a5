package cloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/decisionlog"
)

// TestEveryEmulatorsDecisionsInOneLog sends each cloud a request it
// refuses, on its own host name, and finds each refusal through the one
// admin endpoint, numbered by one cursor.
func TestEveryEmulatorsDecisionsInOneLog(t *testing.T) {
	c, _ := startCloudFor(t, eksIssuer, labFixture(t), func(cfg *Config) {
		cfg.Region = "us-west-2"
		cfg.GCPFixtures = "../../fixtures/gcp"
		cfg.AzureFixtures = "../../fixtures/azure"
	})
	const tenant = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	tests := []struct {
		name, method, url, body string
		query                   url.Values
		want                    decisionlog.Entry
	}{
		{name: "s3 (aws iam)", method: "GET", url: "https://s3.us-west-2.amazonaws.com/app-a-data/hello.txt",
			query: url.Values{"cloud": {"aws"}, "action": {"s3:GetObject"}},
			want:  decisionlog.Entry{Cloud: "aws", Service: "iam", Action: "s3:GetObject", Resource: "arn:aws:s3:::app-a-data/hello.txt"}},
		{name: "cloud storage (gcpiam)", method: "GET", url: "https://storage.googleapis.com/storage/v1/b/team-a-data/o",
			query: url.Values{"cloud": {"google"}},
			want:  decisionlog.Entry{Cloud: "google", Service: "gcpiam", Principal: "anonymous", Action: "storage.objects.list", Resource: "projects/_/buckets/team-a-data", Effect: "Deny"}},
		{name: "entra", method: "POST", url: "https://login.microsoftonline.com/" + tenant + "/oauth2/v2.0/token", body: "grant_type=password",
			query: url.Values{"service": {"entra"}},
			want:  decisionlog.Entry{Cloud: "azure", Service: "entra", Action: "entra:token", Effect: "Deny", Code: "AADSTS70003"}},
		{name: "azure blob", method: "GET", url: "https://idlab.blob.core.windows.net/team-a-data/hello.txt",
			query: url.Values{"service": {"azureblob"}},
			want:  decisionlog.Entry{Cloud: "azure", Service: "azureblob", Effect: "Deny", Code: "NoAuthenticationInformation"}},
	}
	var last int64
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			require.NoError(t, err)
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, err := c.Client().Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.False(t, resp.StatusCode/100 == 2, "HTTP %d", resp.StatusCode)

			q := tc.query
			q.Set("since", "0")
			status, body := adminDo(t, c, http.MethodGet, "/_idlab/decisions?"+q.Encode(), "")
			require.Equal(t, http.StatusOK, status, body)
			var ds []decisionlog.Entry
			require.NoError(t, json.Unmarshal([]byte(body), &ds))
			require.NotEmpty(t, ds, body)
			got := ds[len(ds)-1]
			require.Greater(t, got.Seq, last, "one cursor numbers every emulator's decisions")
			last = got.Seq
			require.False(t, got.Allowed(), got.Reason)
			require.NotEmpty(t, got.Reason)
			require.Equal(t, tc.want.Cloud, got.Cloud)
			require.Equal(t, tc.want.Service, got.Service)
			for _, f := range []struct{ want, got string }{{tc.want.Principal, got.Principal}, {tc.want.Action, got.Action},
				{tc.want.Resource, got.Resource}, {tc.want.Effect, got.Effect}, {tc.want.Code, got.Code}} {
				if f.want != "" {
					require.Equal(t, f.want, f.got)
				}
			}
		})
	}
	status, body := adminDo(t, c, http.MethodGet, "/_idlab/decisions?since=soon", "")
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, `since \"soon\": want the seq of a decision`)
}

// TestDecisionLinesOnlyWhenAsked: IAM's decision reaches the logger only
// with LogDecisions (serve --log-decisions), while the decision log holds it
// either way; other lines pass both ways.
func TestDecisionLinesOnlyWhenAsked(t *testing.T) {
	for _, logDecisions := range []bool{false, true} {
		t.Run(fmt.Sprintf("LogDecisions=%v", logDecisions), func(t *testing.T) {
			var out lockedBuffer
			c, _ := startCloudFor(t, eksIssuer, labFixture(t), func(cfg *Config) {
				cfg.Logger = slog.New(slog.NewTextHandler(&out, nil))
				cfg.LogDecisions = logDecisions
			})
			c.log.Info("a line that is not a decision")
			resp, err := c.Client().Get("https://s3.us-east-1.amazonaws.com/app-a-data/hello.txt")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusForbidden, resp.StatusCode)

			status, body := adminDo(t, c, http.MethodGet, "/_idlab/decisions?since=0&action=s3:GetObject", "")
			require.Equal(t, http.StatusOK, status, body)
			require.Contains(t, body, `"action":"s3:GetObject"`, "the decision log holds it either way")
			require.Contains(t, out.String(), "a line that is not a decision")
			require.Equal(t, logDecisions, strings.Contains(out.String(), `msg="iam decision" emulator=iam decision=`), out.String())
		})
	}
}

// lockedBuffer is a bytes.Buffer the server's goroutines may write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
