package azureblob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/azureblob"
	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/internal/certs"
)

const (
	tenantID    = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	otherTenant = "0b8e7d6c-5a4f-4e3d-9c2b-1a0f9e8d7c6b"
	readerApp   = "a1111111-1111-4111-8111-111111111111" // Reader on team-a-data
	writerApp   = "b2222222-2222-4222-8222-222222222222" // Contributor on team-b-data
	accountApp  = "c3333333-3333-4333-8333-333333333333" // Reader on the whole account
	nobodyApp   = "d4444444-4444-4444-8444-444444444444" // no role assignment
	strangerApp = "e5555555-5555-4555-8555-555555555555" // an app of another tenant
	aksIssuer   = "https://westus2.oic.prod-aks.azure.com/" + tenantID + "/ISSUER/"
	accountURL  = "https://idlab.blob.core.windows.net/"
)

const fixture = `
tenants:
  - id: ` + tenantID + `
    storageAccounts:
      - name: idlab
        containers:
          - {name: team-a-data, blobs: {hello.txt: "hello from team-a-data", dir/x.txt: "x", dir/y.txt: "y"}}
          - {name: team-b-data, blobs: {secret.txt: "team b only"}}
        roleAssignments:
          - {assignee: ` + readerApp + `, role: Storage Blob Data Reader, container: team-a-data}
          - {assignee: ` + writerApp + `, role: Storage Blob Data Contributor, container: team-b-data}
          - {assignee: ` + accountApp + `, role: Storage Blob Data Reader}
`

// lab is a cluster issuer, Entra with the tenant's apps, and the blob
// service verifying Entra's tokens.
type lab struct {
	issuer *oidc.Issuer
	entra  *entra.Server
	blob   *azureblob.Server
	// skew moves Entra's clock (issue tokens in the past).
	skew atomic.Int64
}

func newLab(t *testing.T) *lab {
	t.Helper()
	ca, err := certs.NewCA("azureblob-test")
	require.NoError(t, err)
	l := &lab{}
	now := func() time.Time { return time.Now().Add(time.Duration(l.skew.Load())) }
	o, err := oidc.NewServer(oidc.Options{CA: ca, Now: now})
	require.NoError(t, err)
	t.Cleanup(o.Close)
	l.issuer, err = o.Handler().AddIssuer(aksIssuer)
	require.NoError(t, err)
	_, err = l.issuer.AddKey("RS256")
	require.NoError(t, err)
	l.entra, err = entra.NewServer(entra.Options{CA: ca, HTTPClient: o.Client(), Now: now})
	require.NoError(t, err)
	t.Cleanup(l.entra.Close)
	for _, app := range []struct{ tenant, client string }{
		{tenantID, readerApp}, {tenantID, writerApp}, {tenantID, accountApp}, {tenantID, nobodyApp}, {otherTenant, strangerApp},
	} {
		require.NoError(t, l.entra.Handler().AddApp(entra.App{Tenant: app.tenant, ClientID: app.client,
			FederatedCredentials: []entra.FederatedCredential{{Issuer: aksIssuer, Subject: "system:serviceaccount:apps:" + app.client}}}))
	}
	l.blob, err = azureblob.NewServer(azureblob.Options{CA: ca, Tokens: l.entra.Handler()})
	require.NoError(t, err)
	t.Cleanup(l.blob.Close)
	require.NoError(t, l.blob.Handler().LoadFixtureYAML("test.yaml", []byte(fixture)))
	return l
}

// credential is the unmodified azidentity client-assertion credential of
// app, with its service-account token as the assertion.
func (l *lab) credential(t *testing.T, tenant, app string) azcore.TokenCredential {
	t.Helper()
	tok, err := l.issuer.MintServiceAccountToken(oidc.TokenRequest{Namespace: "apps", ServiceAccount: app, Audiences: []string{entra.DefaultFederatedAudience}})
	require.NoError(t, err)
	cred, err := azidentity.NewClientAssertionCredential(tenant, app, func(context.Context) (string, error) { return tok, nil },
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: azcore.ClientOptions{
			Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: l.entra.URL() + "/"}, Transport: l.entra.Client(),
			Retry: policy.RetryOptions{MaxRetries: -1},
		}})
	require.NoError(t, err)
	return cred
}

// staticToken is a credential that always presents one token.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (l *lab) client(t *testing.T, cred azcore.TokenCredential, audience string) *azblob.Client {
	t.Helper()
	c, err := azblob.NewClient(accountURL, cred, &azblob.ClientOptions{Audience: audience, ClientOptions: azcore.ClientOptions{
		Transport: l.blob.Client(), Retry: policy.RetryOptions{MaxRetries: -1}}})
	require.NoError(t, err)
	return c
}

// op is one SDK call against the account.
type op func(ctx context.Context, c *azblob.Client) (string, error)

func get(container, blob string) op {
	return func(ctx context.Context, c *azblob.Client) (string, error) {
		resp, err := c.DownloadStream(ctx, container, blob, nil)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
}

func put(container, blob, text string) op {
	return func(ctx context.Context, c *azblob.Client) (string, error) {
		_, err := c.UploadBuffer(ctx, container, blob, []byte(text), nil)
		return "", err
	}
}

func list(container string) op {
	return func(ctx context.Context, c *azblob.Client) (string, error) {
		var names []string
		p := c.NewListBlobsFlatPager(container, nil)
		for p.More() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return "", err
			}
			for _, b := range page.Segment.BlobItems {
				names = append(names, *b.Name)
			}
		}
		return strings.Join(names, ","), nil
	}
}

// TestAuthorization is every allow/deny rule through the real azblob
// client and azidentity: the SDK's error code and the decision log agree.
func TestAuthorization(t *testing.T) {
	l := newLab(t)
	expired := func(t *testing.T) azcore.TokenCredential {
		l.skew.Store(int64(-3 * time.Hour))
		defer l.skew.Store(0)
		tok, err := l.credential(t, tenantID, readerApp).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://storage.azure.com/.default"}})
		require.NoError(t, err)
		return staticToken(tok.Token)
	}
	tampered := func(t *testing.T) azcore.TokenCredential {
		tok, err := l.credential(t, tenantID, readerApp).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://storage.azure.com/.default"}})
		require.NoError(t, err)
		b := []byte(tok.Token)
		i := bytes.LastIndexByte(b, '.') + 5
		if b[i] == 'A' { // another base64url character, so the token still parses
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return staticToken(b)
	}
	app := func(tenant, id string) func(t *testing.T) azcore.TokenCredential {
		return func(t *testing.T) azcore.TokenCredential { return l.credential(t, tenant, id) }
	}
	for _, tc := range []struct {
		name     string
		cred     func(t *testing.T) azcore.TokenCredential
		audience string
		call     op
		want     string         // result when allowed
		code     bloberror.Code // SDK error code when denied
		status   int            // HTTP status of the denial
		allowed  bool           // the logged decision
		detail   string         // AuthenticationErrorDetail
		// challenged: the first attempt was refused with 401 and the
		// bearer challenge, and the SDK\'s retry decided.
		challenged bool
	}{
		{name: "reader reads its container", cred: app(tenantID, readerApp), call: get("team-a-data", "hello.txt"), want: "hello from team-a-data", allowed: true},
		{name: "reader lists its container", cred: app(tenantID, readerApp), call: list("team-a-data"), want: "dir/x.txt,dir/y.txt,hello.txt", allowed: true},
		{name: "reader denied another container", cred: app(tenantID, readerApp), call: get("team-b-data", "secret.txt"), code: bloberror.AuthorizationPermissionMismatch, status: 403},
		{name: "reader denied listing another container", cred: app(tenantID, readerApp), call: list("team-b-data"), code: bloberror.AuthorizationPermissionMismatch, status: 403},
		{name: "reader cannot write its container", cred: app(tenantID, readerApp), call: put("team-a-data", "planted.txt", "x"), code: bloberror.AuthorizationPermissionMismatch, status: 403},
		{name: "reader: missing blob is 404", cred: app(tenantID, readerApp), call: get("team-a-data", "nope.txt"), code: bloberror.BlobNotFound, status: 404, allowed: true},
		{name: "reader: authorization before existence", cred: app(tenantID, readerApp), call: get("no-such-container", "x"), code: bloberror.AuthorizationPermissionMismatch, status: 403},
		{name: "account reader: missing container is 404", cred: app(tenantID, accountApp), call: get("no-such-container", "x"), code: bloberror.ContainerNotFound, status: 404, allowed: true},
		{name: "account reader reads any container", cred: app(tenantID, accountApp), call: get("team-b-data", "secret.txt"), want: "team b only", allowed: true},
		{name: "contributor writes its container", cred: app(tenantID, writerApp), call: put("team-b-data", "new.txt", "written"), allowed: true},
		{name: "contributor denied the other container", cred: app(tenantID, writerApp), call: get("team-a-data", "hello.txt"), code: bloberror.AuthorizationPermissionMismatch, status: 403},
		{name: "no role assignment", cred: app(tenantID, nobodyApp), call: get("team-a-data", "hello.txt"), code: bloberror.AuthorizationPermissionMismatch, status: 403},
		{name: "token of another tenant", cred: app(otherTenant, strangerApp), call: get("team-a-data", "hello.txt"), code: bloberror.InvalidAuthenticationInfo, status: 401, detail: "Issuer validation failed. Issuer did not match."},
		{name: "token for another resource: the challenge names storage", cred: app(tenantID, readerApp), audience: "https://management.azure.com", call: get("team-a-data", "hello.txt"), want: "hello from team-a-data", allowed: true, challenged: true},
		{name: "expired token", cred: expired, call: get("team-a-data", "hello.txt"), code: bloberror.InvalidAuthenticationInfo, status: 401, detail: "Lifetime validation failed. The token is expired."},
		{name: "tampered token", cred: tampered, call: get("team-a-data", "hello.txt"), code: bloberror.InvalidAuthenticationInfo, status: 401, detail: "Signature validation failed. Signature verification failed."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.blob.Handler().ResetDecisions()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			got, err := tc.call(ctx, l.client(t, tc.cred(t), tc.audience))
			if tc.code == "" {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
			} else {
				require.True(t, bloberror.HasCode(err, tc.code), "want %s, got %v", tc.code, err)
				var re *azcore.ResponseError
				require.True(t, errors.As(err, &re))
				require.Equal(t, tc.status, re.StatusCode)
				if tc.detail != "" {
					require.Contains(t, err.Error(), tc.detail)
				}
			}
			ds := l.blob.Handler().Decisions()
			require.NotEmpty(t, ds)
			last := ds[len(ds)-1]
			require.Equal(t, tc.allowed, last.Allowed(), last.Reason)
			if !tc.allowed {
				require.Equal(t, string(tc.code), last.Code)
			}
			if tc.challenged {
				require.Len(t, ds, 2)
				require.Equal(t, "InvalidAuthenticationInfo", ds[0].Code)
				require.Contains(t, ds[0].Reason, "audience \"https://management.azure.com\"")
			}
		})
	}
}

// TestWireFormat checks what the SDK does not show: headers, the XML
// body, the bearer challenge, and the refusals of non-bearer requests.
func TestWireFormat(t *testing.T) {
	l := newLab(t)
	hc := l.blob.Client()
	do := func(t *testing.T, method, url string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, nil)
		require.NoError(t, err)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	tok, err := l.credential(t, tenantID, readerApp).GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://storage.azure.com/.default"}})
	require.NoError(t, err)
	bearer := "Bearer " + tok.Token
	for _, tc := range []struct {
		name, method, url string
		hdr               map[string]string
		status            int
		code, detail      string
		challenge         bool
	}{
		{"anonymous", "GET", accountURL + "team-a-data/hello.txt", map[string]string{"x-ms-version": "2025-01-05"}, 401, "NoAuthenticationInformation", "", true},
		{"shared key", "GET", accountURL + "team-a-data/hello.txt", map[string]string{"x-ms-version": "2025-01-05", "Authorization": "SharedKey idlab:c2lnbmF0dXJl"}, 403, "AuthenticationFailed", "Authentication scheme SharedKey is not supported.", false},
		{"bearer before 2017-11-09", "GET", accountURL + "team-a-data/hello.txt", map[string]string{"x-ms-version": "2017-07-29", "Authorization": bearer}, 403, "AuthenticationFailed", "Authentication scheme Bearer is not supported in this version.", false},
		{"no version", "GET", accountURL + "team-a-data/hello.txt", map[string]string{"Authorization": bearer}, 400, "MissingRequiredHeader", "", false},
		{"garbage token", "GET", accountURL + "team-a-data/hello.txt", map[string]string{"x-ms-version": "2025-01-05", "Authorization": "Bearer not.a.jwt"}, 401, "InvalidAuthenticationInfo", "", true},
		{"bad container name", "GET", accountURL + "Team_A/hello.txt", map[string]string{"x-ms-version": "2025-01-05", "Authorization": bearer}, 400, "InvalidResourceName", "", false},
		{"unknown account", "GET", "https://nosuch.blob.core.windows.net/team-a-data/hello.txt", map[string]string{"x-ms-version": "2025-01-05", "Authorization": bearer}, 404, "ResourceNotFound", "", false},
		{"unsupported verb", "POST", accountURL + "team-a-data/hello.txt", map[string]string{"x-ms-version": "2025-01-05", "Authorization": bearer}, 405, "UnsupportedHttpVerb", "", false},
		// The admin API is not the blob service's: its paths are a badly
		// named container here.
		{"admin path anonymous", "GET", accountURL + "_idlab/azureblob/accounts", map[string]string{"x-ms-version": "2025-01-05"}, 400, "InvalidResourceName", "", false},
		{"admin path delete", "DELETE", accountURL + "_idlab/azureblob/decisions", map[string]string{"x-ms-version": "2025-01-05", "Authorization": bearer}, 400, "InvalidResourceName", "", false},
		{"range", "GET", accountURL + "team-a-data/hello.txt", map[string]string{"x-ms-version": "2025-01-05", "Authorization": bearer, "x-ms-range": "bytes=0-4"}, 206, "", "", false},
		{"bad range", "GET", accountURL + "team-a-data/hello.txt", map[string]string{"x-ms-version": "2025-01-05", "Authorization": bearer, "x-ms-range": "bytes=500-"}, 416, "InvalidRange", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, tc.method, tc.url, tc.hdr)
			require.Equal(t, tc.status, resp.StatusCode, body)
			require.NotEmpty(t, resp.Header.Get("x-ms-request-id"))
			require.Equal(t, tc.code, resp.Header.Get("x-ms-error-code"))
			if tc.code != "" {
				require.Contains(t, body, "<Error><Code>"+tc.code+"</Code><Message>")
				require.Contains(t, body, "RequestId:"+resp.Header.Get("x-ms-request-id"))
			}
			if tc.detail != "" {
				require.Contains(t, body, "<AuthenticationErrorDetail>"+tc.detail+"</AuthenticationErrorDetail>")
			}
			if tc.challenge {
				require.Equal(t, "Bearer authorization_uri=https://login.microsoftonline.com/"+tenantID+"/oauth2/authorize resource_id=https://storage.azure.com", resp.Header.Get("WWW-Authenticate"))
			} else {
				require.Empty(t, resp.Header.Get("WWW-Authenticate"))
			}
			if tc.status == 206 {
				require.Equal(t, "hello", body)
				require.Equal(t, "bytes 0-4/22", resp.Header.Get("Content-Range"))
			}
		})
	}
}

// TestPersistence: blobs written through the API survive a restart over
// the same DataDir; role assignments come from the fixture again.
func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	verifier, err := entra.New(entra.Options{})
	require.NoError(t, err)
	h, err := azureblob.New(azureblob.Options{Tokens: verifier, DataDir: dir})
	require.NoError(t, err)
	require.NoError(t, h.LoadFixtureYAML("f.yaml", []byte(fixture)))
	require.NoError(t, h.PutBlob(context.Background(), "idlab", "team-a-data", "later.txt", []byte("kept"), ""))

	h2, err := azureblob.New(azureblob.Options{Tokens: verifier, DataDir: dir})
	require.NoError(t, err)
	require.NoError(t, h2.LoadFixtureYAML("f.yaml", []byte(fixture)))
	srv := httptestAdmin(t, h2)
	require.Contains(t, srv, "later.txt")
}

func httptestAdmin(t *testing.T, h *azureblob.Handler) string {
	t.Helper()
	w := httptest.NewRecorder()
	h.AdminHandler().ServeHTTP(w, httptest.NewRequest("GET", azureblob.AdminPrefix+"accounts", nil))
	require.Equal(t, 200, w.Code)
	return w.Body.String()
}
