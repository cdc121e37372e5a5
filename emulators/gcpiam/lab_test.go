package gcpiam_test

import (
	"context"
	"encoding/json"
	"github.com/idlab/idlab/internal/decisionlog"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"

	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/clock"
)

const (
	gkeIssuer = "https://container.googleapis.com/v1/projects/idlab/locations/us-central1/clusters/gke"
	reader    = "reader@idlab.iam.gserviceaccount.com"
	caller    = "caller@idlab.iam.gserviceaccount.com"
	outsider  = "outsider@idlab.iam.gserviceaccount.com"
)

const labFixture = `projects:
  - id: idlab
    number: "123456789012"
    serviceAccounts:
      - {id: reader, displayName: Reader}
      - {id: caller}
      - {id: outsider}
    workloadIdentityPools:
      - {id: idlab.svc.id.goog, issuer: "` + gkeIssuer + `", audiences: ["idlab.svc.id.goog"]}
      - {id: github, provider: actions, issuer: "https://token.actions.githubusercontent.com"}
    bindings:
      - {resource: projects/idlab/serviceAccounts/reader@idlab.iam.gserviceaccount.com, role: roles/iam.workloadIdentityUser, members: ["serviceAccount:idlab.svc.id.goog[team-a/app]"]}
      - {resource: projects/idlab/serviceAccounts/reader@idlab.iam.gserviceaccount.com, role: roles/iam.serviceAccountTokenCreator, members: ["serviceAccount:caller@idlab.iam.gserviceaccount.com"]}
      - {resource: projects/_/buckets/team-a-data, role: roles/storage.objectViewer, members: ["serviceAccount:reader@idlab.iam.gserviceaccount.com"]}
`

// lab is a gcpiam server beside an OIDC server hosting a GKE cluster issuer.
type lab struct {
	clk     *clock.Clock
	issuers *oidc.Server
	gke     *oidc.Issuer
	srv     *gcpiam.Server
	h       *gcpiam.Handler
}

func newLab(t *testing.T) *lab {
	t.Helper()
	ca, err := certs.NewCA("gcpiam test")
	require.NoError(t, err)
	clk := clock.New(nil)
	issuers, err := oidc.NewServer(oidc.Options{CA: ca, Now: clk.Now})
	require.NoError(t, err)
	t.Cleanup(issuers.Close)
	gke, err := issuers.Handler().AddIssuer(gkeIssuer, oidc.WithJWKSPath("/jwks"))
	require.NoError(t, err)
	_, err = gke.AddKey("RS256")
	require.NoError(t, err)
	srv, err := gcpiam.NewServer(gcpiam.Options{CA: ca, Now: clk.Now, HTTPClient: issuers.Client()})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	require.NoError(t, srv.Handler().LoadFixtureYAML("lab.yaml", []byte(labFixture)))
	return &lab{clk: clk, issuers: issuers, gke: gke, srv: srv, h: srv.Handler()}
}

// ctx carries the server's client for golang.org/x/oauth2 code paths.
func (l *lab) ctx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, l.srv.Client())
}

// credentials is the unmodified IAM Credentials client sending token
// ("" sends no Authorization header).
func (l *lab) credentials(t *testing.T, token string) *iamcredentials.Service {
	t.Helper()
	hc := l.srv.Client()
	if token != "" {
		hc = oauth2.NewClient(l.ctx(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"}))
	}
	svc, err := iamcredentials.NewService(context.Background(), option.WithEndpoint(l.srv.URL()+"/"), option.WithHTTPClient(hc))
	require.NoError(t, err)
	return svc
}

func (l *lab) token(t *testing.T, email string) string {
	t.Helper()
	tok, _, err := l.h.MintAccessToken(context.Background(), email, nil, 0)
	require.NoError(t, err)
	return tok
}

// ksaToken is a projected KSA token as kubelet would get for a GKE pod.
func (l *lab) ksaToken(t *testing.T, ns, ksa string, mut func(*oidc.TokenRequest)) string {
	t.Helper()
	req := oidc.TokenRequest{Namespace: ns, ServiceAccount: ksa, Audiences: []string{"idlab.svc.id.goog"}, Pod: &oidc.ObjectRef{Name: "p", UID: "u"}}
	if mut != nil {
		mut(&req)
	}
	tok, err := l.gke.MintServiceAccountToken(req)
	require.NoError(t, err)
	return tok
}

// post sends a form to host+path through the server and decodes JSON.
func (l *lab) post(t *testing.T, rawURL string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := l.srv.Client().Post(rawURL, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	defer resp.Body.Close()
	return decode(t, resp)
}

func (l *lab) get(t *testing.T, rawURL string) (int, map[string]any) {
	t.Helper()
	resp, err := l.srv.Client().Get(rawURL)
	require.NoError(t, err)
	defer resp.Body.Close()
	return decode(t, resp)
}

func decode(t *testing.T, resp *http.Response) (int, map[string]any) {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m), string(body))
	return resp.StatusCode, m
}

func lastDecision(t *testing.T, h *gcpiam.Handler) decisionlog.Entry {
	t.Helper()
	ds := h.Decisions()
	require.NotEmpty(t, ds)
	return ds[len(ds)-1]
}
