package podidentity

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/eksauth"
	"github.com/idlab/idlab/emulators/oidc"
	"github.com/idlab/idlab/idlabtest"
	"github.com/idlab/idlab/scenarios/internal/fixturecheck"
	"github.com/idlab/idlab/scenarios/kit/labenv"
)

// raceTestNS is a namespace the race rows' would be named like.
const raceTestNS = "idlab-podid-race-0a1b2c"

// eksProvider is the eks cluster's IAM OIDC provider in account
// 123456789012 as fixtures/aws/lab.yaml ships it, up to the first role.
const eksProvider = `    oidcProviders:
      - url: https://oidc.eks.us-west-2.amazonaws.com/id/72384992066C61667C0CF6C50CD43852
        clientIDs: [sts.amazonaws.com]
    roles:
      # The smoke scenario`

// eksProviderARN is the principal STS decides for a token of the eks
// cluster in account 123456789012.
const eksProviderARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/72384992066C61667C0CF6C50CD43852"

// raceSTSReason is STS's reason for refusing the IRSA race pod.
const raceSTSReason = "implicitly denied: no statement of trust policy of " + appRole + " allows this principal"

// raceCloud is the composed cloud with the lab's AWS fixtures (lab.yaml as
// given, podidentity.yaml with the test's node role) and EKS fixtures.
func raceCloud(t *testing.T, labYAML string) *idlabtest.Cloud {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lab.yaml"), []byte(labYAML), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "podidentity.yaml"), []byte(fixturecheck.Read(t, "aws/podidentity.yaml")+testNode), 0o600))
	return idlabtest.NewCloud(t, idlabtest.CloudOptions{AWSFixtures: dir, EKSFixtures: fixturecheck.Path(t, "eks"),
		Issuers: []string{fixturecheck.Issuer("eks")}})
}

// TestLabAssociationRaceRestsOnTheFixture is the test of the race rows'
// cloud side (race_test.go; make test runs it):
//
//   - the race pod of the annotated service account, sent to STS with its
//     IRSA token, is refused at podid-app's trust policy (AccessDenied),
//     which trusts only pods.eks.amazonaws.com; with a statement trusting
//     that service account's token the same call is allowed;
//   - in an account without the cluster's OIDC provider, as
//     aws/amazon-eks-pod-identity-webhook#264's reporter's, the same call is
//     the thread's InvalidIdentityToken "No OpenIDConnect provider found in
//     your account for https://oidc.eks...";
//   - the pods that do reach the agent (the rows' tests of the tests) get
//     podid-app only once the association exists: EKS Auth refuses the
//     same token before it is added through the admin API and after it is
//     deleted.
func TestLabAssociationRaceRestsOnTheFixture(t *testing.T) {
	shipped := fixturecheck.Read(t, "aws/lab.yaml")
	irsaToken := func(c *idlabtest.Cloud) string {
		return fixturecheck.Token(t, c, raceTestNS, "app-irsa", "sts.amazonaws.com")
	}
	t.Run("IRSA variables: refused at podid-app's trust", func(t *testing.T) {
		c := raceCloud(t, shipped)
		status, body := fixturecheck.WebIdentity(t, c, appRole, irsaToken(c))
		require.Equal(t, http.StatusForbidden, status, body)
		require.Equal(t, "AccessDenied", fixturecheck.Code(body))
		require.Contains(t, body, "Not authorized to perform sts:AssumeRoleWithWebIdentity")
		ds := c.Decisions.Entries(labenv.DecisionQuery{Action: "sts:AssumeRoleWithWebIdentity", Resource: appRole})
		require.NotEmpty(t, ds)
		d := ds[len(ds)-1]
		require.Equal(t, "ImplicitDeny", d.Effect, d.Explanation())
		require.Equal(t, eksProviderARN, d.Principal, d.Explanation())
		require.Equal(t, raceSTSReason, d.Reason, d.Explanation())
	})
	t.Run("IRSA variables: allowed with a trust that names the token", func(t *testing.T) {
		widened := fixturecheck.Replace(t, fixturecheck.Read(t, "aws/podidentity.yaml"), `            - Sid: EKSPodIdentity
              Effect: Allow
              Principal: {Service: pods.eks.amazonaws.com}
              Action: [sts:AssumeRole, sts:TagSession]
`, `            - Sid: EKSPodIdentity
              Effect: Allow
              Principal: {Service: pods.eks.amazonaws.com}
              Action: [sts:AssumeRole, sts:TagSession]
            - Sid: RaceIRSA
              Effect: Allow
              Principal: {Federated: arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/72384992066C61667C0CF6C50CD43852}
              Action: sts:AssumeRoleWithWebIdentity
              Condition: {StringEquals: {"oidc.eks.us-west-2.amazonaws.com/id/72384992066C61667C0CF6C50CD43852:sub": "system:serviceaccount:`+raceTestNS+`:app-irsa"}}
`)
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "lab.yaml"), []byte(shipped), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "podidentity.yaml"), []byte(widened+testNode), 0o600))
		c := idlabtest.NewCloud(t, idlabtest.CloudOptions{AWSFixtures: dir, EKSFixtures: fixturecheck.Path(t, "eks"), Issuers: []string{fixturecheck.Issuer("eks")}})
		status, body := fixturecheck.WebIdentity(t, c, appRole, irsaToken(c))
		require.Equal(t, http.StatusOK, status, body)
	})
	t.Run("IRSA variables, no OIDC provider: the thread's InvalidIdentityToken", func(t *testing.T) {
		c := raceCloud(t, fixturecheck.Replace(t, shipped, eksProvider, "    roles:\n      # The smoke scenario"))
		status, body := fixturecheck.WebIdentity(t, c, appRole, irsaToken(c))
		require.Equal(t, http.StatusBadRequest, status, body)
		require.Equal(t, "InvalidIdentityToken", fixturecheck.Code(body))
		require.Contains(t, body, "No OpenIDConnect provider found in your account for https://oidc.eks.us-west-2.amazonaws.com/id/72384992066C61667C0CF6C50CD43852")
	})
	t.Run("container credentials: allowed only while the association exists", func(t *testing.T) {
		c := raceCloud(t, shipped)
		agent := podIdentityAgent(t, c)
		for _, sa := range []string{"app", "app-irsa"} {
			tok, err := c.Issuer(fixturecheck.Issuer("eks")).MintServiceAccountToken(oidc.TokenRequest{Namespace: raceTestNS, ServiceAccount: sa,
				Audiences: []string{eksauth.Audience}, Pod: &oidc.ObjectRef{Name: sa + "-after", UID: "00000000-0000-4000-8000-0000000000a1"}})
			require.NoError(t, err)
			status, body := agentGet(t, agent, tok)
			require.Equal(t, http.StatusNotFound, status, "%s before the association: %s", sa, body)
			require.Contains(t, body, "(ResourceNotFoundException)")

			admin := c.AdminJSON
			a, err := labenv.AddPodIdentityAssociation(context.Background(), admin, eksauth.Association{ClusterName: "eks", Namespace: raceTestNS, ServiceAccount: sa, RoleARN: appRole})
			require.NoError(t, err)
			status, body = agentGet(t, agent, tok)
			require.Equal(t, http.StatusOK, status, "%s with the association: %s", sa, body)
			require.Contains(t, body, `"AccessKeyId":"ASIA`)

			require.NoError(t, labenv.DeletePodIdentityAssociation(context.Background(), admin, a.ID))
			// The agent caches the credentials it got for this token
			// (upstream's cache); a fresh pod's token is refused again.
			fresh, err := c.Issuer(fixturecheck.Issuer("eks")).MintServiceAccountToken(oidc.TokenRequest{Namespace: raceTestNS, ServiceAccount: sa,
				Audiences: []string{eksauth.Audience}, Pod: &oidc.ObjectRef{Name: sa + "-later", UID: "00000000-0000-4000-8000-0000000000a2"}})
			require.NoError(t, err)
			status, body = agentGet(t, agent, fresh)
			require.Equal(t, http.StatusNotFound, status, "%s after the association was deleted: %s", sa, body)
		}
	})
}
