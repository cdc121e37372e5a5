package thirdparty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/googleapi"

	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/idlabtest"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
)

// The suite's names, shared by its e2e rows and the tests of them here.
const (
	// ns is the suite's namespace in each cluster.
	ns = "idlab-thirdparty"
	// rcloneRole is what the eks service accounts rclone and other name;
	// its trust policy lets in rclone only.
	rcloneRole = "thirdparty-rclone"
	// readerA and readerB are the gke KSAs' service accounts: rclone is
	// bound to team-a-reader, rclone-b to team-b-reader.
	readerA = "team-a-reader@idlab.iam.gserviceaccount.com"
	readerB = "team-b-reader@idlab.iam.gserviceaccount.com"
	pool    = "idlab.svc.id.goog"
	// The aks apps: az is federated with thirdparty-reader (which reads
	// team-a-data), az-norbac with thirdparty-norbac (no role assignment),
	// az-other names thirdparty-reader but no credential trusts it.
	tenant   = fixturecheck.AzureTenant
	account  = "idlab"
	appRead  = "0c333333-3333-4333-8333-333333333333"
	appNoRBC = "0d444444-4444-4444-8444-444444444444"
	// subscription is the storage account's (azureblob.DefaultSubscription).
	subscription = "00000000-0000-0000-0000-000000000000"
)

// TestLabThirdpartyS3DenialsRestOnTheFixture is the test of the rclone S3
// rows (no //go:build e2e: make test runs it): rclone's identity is
// thirdparty-rclone only for idlab-thirdparty/rclone (other is refused by
// the trust policy's subject condition), and the role reads app-a-data but
// not app-b-data, whose refusal rclone reports; with the Resource of the
// role's statement widened, app-b-data is read (then rclone's first
// request, the HEAD, succeeds and it lists nothing).
func TestLabThirdpartyS3DenialsRestOnTheFixture(t *testing.T) {
	t.Run("trust", func(t *testing.T) {
		fixturecheck.SubjectConditions(t, []fixturecheck.TrustRow{
			{Name: "own-object", Namespace: ns, ServiceAccount: "rclone", Role: rcloneRole, Allowed: true},
			{Name: "other-sa", Namespace: ns, ServiceAccount: "other", Role: rcloneRole},
		})
	})
	t.Run("bucket", func(t *testing.T) {
		fixturecheck.OwnBucketOnly(t, fixturecheck.BucketRow{Namespace: ns, ServiceAccount: "rclone", Role: rcloneRole,
			Own: "Sid: ThirdpartyRcloneReadsAppAData\n                Effect: Allow\n                Action: s3:GetObject\n                Resource: arn:aws:s3:::app-a-data/*"})
	})
}

// TestLabThirdpartyGCSDenialsRestOnTheFixture is the test of the rclone
// Cloud Storage rows: idlab-thirdparty/rclone acts as team-a-reader and
// reads team-a-data; idlab-thirdparty/rclone-b acts as team-b-reader, which
// no binding lets read team-a-data (403 on the get and on the list rclone
// falls back to); with team-b-reader made an objectViewer of team-a-data,
// it reads it.
func TestLabThirdpartyGCSDenialsRestOnTheFixture(t *testing.T) {
	shipped := fixturecheck.Read(t, "gcp/lab.yaml")
	widened := fixturecheck.Replace(t, shipped, `      - resource: projects/_/buckets/team-a-data
        role: roles/storage.objectViewer
        members: ["serviceAccount:team-a-reader@idlab.iam.gserviceaccount.com"]`, `      - resource: projects/_/buckets/team-a-data
        role: roles/storage.objectViewer
        members: ["serviceAccount:team-a-reader@idlab.iam.gserviceaccount.com", "serviceAccount:team-b-reader@idlab.iam.gserviceaccount.com"]`)
	for _, fx := range fixturecheck.Variants(t, shipped, widened) {
		t.Run(fx.Name, func(t *testing.T) {
			g := idlabtest.NewGoogle(t, idlabtest.GoogleOptions{Fixtures: []string{fixturecheck.Write(t, fx.Fixture)}})
			ctx := context.Background()
			for _, r := range []struct {
				ksa, gsa string
				allowed  bool
			}{{"rclone", readerA, true}, {"rclone-b", readerB, fx.Widened}} {
				sc := g.NewStorageClient(t, pool, ns, r.ksa, r.gsa)
				got, err := readGCS(ctx, sc.Bucket("team-a-data").Object("hello.txt"))
				_, lerr := sc.Bucket("team-a-data").Objects(ctx, nil).Next()
				if r.allowed {
					require.NoError(t, err, "%s as %s", r.ksa, r.gsa)
					require.Equal(t, "hello from team-a-data", got)
					continue
				}
				for _, e := range []error{err, lerr} {
					var ge *googleapi.Error
					require.True(t, errors.As(e, &ge), "%s: %v", r.ksa, e)
					require.Equal(t, http.StatusForbidden, ge.Code)
				}
			}
		})
	}
}

func readGCS(ctx context.Context, o *storage.ObjectHandle) (string, error) {
	rd, err := o.NewReader(ctx)
	if err != nil {
		return "", err
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	return string(b), err
}

// TestLabThirdpartyAzureDenialsRestOnTheFixture is the test of the az
// rows and of the rclone Blob Storage row: as shipped, idlab-thirdparty/az
// gets thirdparty-reader's tokens, Resource Manager lists it the storage
// account's subscription and it reads team-a-data, not team-b-data
// (AuthorizationPermissionMismatch); az-norbac gets thirdparty-norbac's
// tokens but no subscription and no blob; az-other gets no token
// (AADSTS700213). With the role assignments widened (thirdparty-reader at
// the account, thirdparty-norbac on team-a-data) and a credential for
// az-other, everything is allowed. The rclone row's identity is az's: its
// token is good, so what refuses rclone is rclone.
func TestLabThirdpartyAzureDenialsRestOnTheFixture(t *testing.T) {
	aks := fixturecheck.Issuer("aks")
	shipped := fixturecheck.Read(t, "azure/lab.yaml")
	widened := fixturecheck.Replace(t, shipped,
		"          - {assignee: "+appRead+", container: team-a-data, role: Storage Blob Data Reader}\n",
		"          - {assignee: "+appRead+", role: Storage Blob Data Reader}\n          - {assignee: "+appNoRBC+", container: team-a-data, role: Storage Blob Data Reader}\n")
	widened = fixturecheck.Replace(t, widened, "            subject: system:serviceaccount:idlab-thirdparty:az\n",
		"            subject: system:serviceaccount:idlab-thirdparty:az\n          - {name: az-other, issuer: \""+aks+"\", subject: \"system:serviceaccount:idlab-thirdparty:az-other\"}\n")
	rows := []struct {
		name, sa, app   string
		container, blob string
		subs            int    // subscriptions Resource Manager lists (shipped)
		code            string // shipped; "" = allowed
	}{
		{"own-container", "az", appRead, "team-a-data", "hello.txt", 1, ""},
		{"other-container", "az", appRead, "team-b-data", "secret.txt", 1, "AuthorizationPermissionMismatch"},
		{"no-role-assignment", "az-norbac", appNoRBC, "team-a-data", "hello.txt", 0, "AuthorizationPermissionMismatch"},
		{"unfederated-sa", "az-other", appRead, "", "", 0, "AADSTS700213"},
	}
	for _, fx := range fixturecheck.Variants(t, shipped, widened) {
		t.Run(fx.Name, func(t *testing.T) {
			c := idlabtest.NewCloud(t, idlabtest.CloudOptions{AzureFixtures: fixturecheck.Write(t, fx.Fixture), Issuers: []string{aks}})
			for _, r := range rows {
				got := azRow(t, c, c.Issuer(aks), r.sa, r.app, r.container, r.blob)
				want := azOutcome{code: r.code, subs: r.subs}
				if fx.Widened {
					want = azOutcome{subs: 1}
				}
				if want.code == "AADSTS700213" {
					want.subs = 0
				}
				require.Equal(t, want, got, "%s with the %s fixture", r.name, fx.Name)
			}
		})
	}
}

// azOutcome is what azRow saw: the number of subscriptions Resource
// Manager listed and the first refusal's code ("" when all was allowed).
type azOutcome struct {
	subs int
	code string
}

// azRow does what az does for a row, over the cloud's real host names:
// trade the service account's token for an ARM token and list the
// subscriptions (az login), then for a storage token and read the blob
// (az storage blob download --auth-mode login).
func azRow(t *testing.T, c *idlabtest.Cloud, minter *oidc.Issuer, sa, app, container, blob string) azOutcome {
	t.Helper()
	arm, code := entraToken(t, c, minter, sa, app, "https://management.core.windows.net//.default")
	if code != "" {
		return azOutcome{code: code}
	}
	status, body := get(t, c, "https://management.azure.com/subscriptions?api-version=2019-11-01", arm)
	require.Equal(t, http.StatusOK, status, body)
	var subs struct {
		Value []struct {
			SubscriptionID string `json:"subscriptionId"`
		} `json:"value"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &subs))
	out := azOutcome{subs: len(subs.Value)}
	if out.subs > 0 {
		require.Equal(t, subscription, subs.Value[0].SubscriptionID)
	}
	if container == "" {
		return out
	}
	st, code := entraToken(t, c, minter, sa, app, "https://storage.azure.com/.default")
	require.Empty(t, code)
	req, err := http.NewRequest(http.MethodGet, "https://"+account+".blob.core.windows.net/"+container+"/"+blob, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+st)
	req.Header.Set("x-ms-version", "2021-08-06")
	resp, err := c.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	out.code = resp.Header.Get("x-ms-error-code")
	return out
}

// entraToken trades idlab-thirdparty/sa's token for app's token for scope
// as MSAL does for az; it returns the token or the AADSTS code.
func entraToken(t *testing.T, c *idlabtest.Cloud, minter *oidc.Issuer, sa, app, scope string) (string, string) {
	t.Helper()
	assertion, err := minter.MintServiceAccountToken(oidc.TokenRequest{Namespace: ns, ServiceAccount: sa, Audiences: []string{"api://AzureADTokenExchange"}})
	require.NoError(t, err)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	resp, err := c.Client().PostForm("https://login.microsoftonline.com/"+tenant+"/oauth2/v2.0/token", form)
	require.NoError(t, err)
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ErrorCodes  []int  `json:"error_codes"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	if resp.StatusCode != http.StatusOK {
		require.NotEmpty(t, tok.ErrorCodes)
		return "", fmt.Sprintf("AADSTS%d", tok.ErrorCodes[0])
	}
	return tok.AccessToken, ""
}

func get(t *testing.T, c *idlabtest.Cloud, u, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, strings.TrimSpace(string(b))
}
