package idlabtest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/idlabtest"
)

func TestStartAWSRefusesBadFixtures(t *testing.T) {
	for name, fixture := range map[string]string{
		"missing": "testdata/none.yaml",
		"invalid": writeFile(t, "accounts:\n  - id: 12\n"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := idlabtest.StartAWS(idlabtest.AWSOptions{Fixtures: []string{fixture}})
			require.ErrorContains(t, err, "idlabtest: iam fixtures")
		})
	}
}

func TestNewAWSTokenAndConfig(t *testing.T) {
	lab := idlabtest.NewAWS(t, idlabtest.AWSOptions{Fixtures: []string{"testdata/iam.yaml"}})
	require.Equal(t, idlabtest.DefaultIssuer, lab.Issuer.URL())
	file, err := lab.TokenFile("team-a", "app")
	require.NoError(t, err)
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Regexp(t, `^[\w-]+\.[\w-]+\.[\w-]+$`, string(raw), "a compact JWT")

	cfg := lab.Config("arn:aws:iam::111111111111:role/app", file)
	require.Equal(t, idlabtest.Region, cfg.Region)
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	require.Equal(t, "111111111111", *out.Account)
	require.NotEmpty(t, lab.IAM.Decisions(awsiam.DecisionFilter{}), "the trade is in IAM's decision log")
}

func TestStartCloudRefusesBadFixtures(t *testing.T) {
	_, err := idlabtest.StartCloud(idlabtest.CloudOptions{AWSFixtures: writeFile(t, "accounts:\n  - id: 12\n")})
	require.ErrorContains(t, err, "idlabtest:")
	_, err = idlabtest.StartCloud(idlabtest.CloudOptions{Issuers: []string{"not a url"}})
	require.ErrorContains(t, err, "idlabtest: issuer not a url")
}

func TestNewCloudAdminAndIssuers(t *testing.T) {
	const iss = "https://oidc.eks.us-west-2.amazonaws.com/id/KIT"
	c := idlabtest.NewCloud(t, idlabtest.CloudOptions{Issuers: []string{iss}})
	require.NotNil(t, c.Issuer(iss))
	require.Nil(t, c.Issuer("https://example.com/other"))
	_, err := c.TokenFile("https://example.com/other", "ns", "sa")
	require.ErrorContains(t, err, "no such issuer")

	status, body := c.Admin(http.MethodGet, "/_idlab/healthz", "")
	require.Equal(t, http.StatusOK, status, body)
	status, body = c.Admin(http.MethodPost, "/_idlab/clock?advance=1h", "")
	require.Equal(t, http.StatusOK, status, body)
	var clock struct{ OffsetSeconds int64 }
	require.NoError(t, json.Unmarshal([]byte(body), &clock))
	require.EqualValues(t, 3600, clock.OffsetSeconds)
	status, _ = c.Admin(http.MethodGet, "/_idlab/nothing", "")
	require.Equal(t, http.StatusNotFound, status)
}

// writeFile writes text to a new file and returns its path.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "*.yaml")
	require.NoError(t, err)
	_, err = f.WriteString(text)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return f.Name()
}
