package cloud

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awsimds"
)

const eksNodeRole = "arn:aws:iam::123456789012:role/eks-node"

// startNodeIMDS is the cloud with the lab fixture and the eks node's
// metadata as the lab serves it (AL2023 defaults: IMDSv2 only, hop limit 2).
func startNodeIMDS(t *testing.T) *Cloud {
	t.Helper()
	c, _ := startCloudFor(t, eksIssuer, labFixture(t), func(cfg *Config) {
		cfg.IMDS = []IMDSConfig{{Name: "eks", RoleARN: eksNodeRole, InstanceID: "i-0eks", Region: "us-west-2", HopLimit: 2, RequireV2: true}}
	})
	return c
}

// nodeCredentials are what the unmodified SDK's instance-profile provider
// gets from url.
func nodeCredentials(url string) (aws.Credentials, error) {
	client := imds.New(imds.Options{Endpoint: url, HTTPClient: &http.Client{Timeout: 3 * time.Second}})
	return ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client }).Retrieve(context.Background())
}

// TestNodeIMDSGivesTheNodeRole: the node's processes (node port) and pods
// behind its bridge (bridge port, two hops, within the AL2023 limit of 2)
// get the eks-node role, which may assume the kube2iam roles.
func TestNodeIMDSGivesTheNodeRole(t *testing.T) {
	c := startNodeIMDS(t)
	node, bridge := c.IMDSURLs("eks")
	for _, url := range []string{node, bridge} {
		creds, err := nodeCredentials(url)
		require.NoError(t, err, url)
		cl := sts.New(sts.Options{Region: "us-west-2", HTTPClient: c.Client(), Credentials: aws.NewCredentialsCache(staticProvider(creds)),
			BaseEndpoint: aws.String("https://sts.us-west-2.amazonaws.com")})
		id, err := cl.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		require.NoError(t, err)
		require.Equal(t, "arn:aws:sts::123456789012:assumed-role/eks-node/i-0eks", aws.ToString(id.Arn))
		out, err := cl.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/kube2iam-app"), RoleSessionName: aws.String("pod")})
		require.NoError(t, err)
		require.Contains(t, aws.ToString(out.AssumedRoleUser.Arn), "assumed-role/kube2iam-app/pod")
	}
}

// TestNodeIMDSHopLimitThroughAdmin: with the hop limit set to 1 (the admin
// endpoint, as ModifyInstanceMetadataOptions), a pod's token PUT dies and,
// IMDSv1 being refused, it gets nothing; the node itself still does.
func TestNodeIMDSHopLimitThroughAdmin(t *testing.T) {
	c := startNodeIMDS(t)
	node, bridge := c.IMDSURLs("eks")
	post := func(q string) (int, awsimds.MetadataOptions) {
		status, body := adminDo(t, c, http.MethodPost, IMDSAdminPrefix+"eks?"+q, "")
		var o awsimds.MetadataOptions
		_ = json.Unmarshal([]byte(body), &o)
		return status, o
	}
	code, o := post("hop-limit=1")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, awsimds.MetadataOptions{RequireV2: true, HopLimit: 1}, o)
	_, err := nodeCredentials(bridge)
	require.Error(t, err, "two hops over a limit of one, IMDSv1 refused")
	for _, action := range []string{awsimds.ActionPutToken, awsimds.ActionGetMetadata} {
		ds := c.IAM.Decisions(awsiam.DecisionFilter{Action: action, Resource: "arn:aws:ec2:us-west-2:123456789012:instance/i-0eks"})
		require.NotEmpty(t, ds, "the refusal %s is in the decision log", action)
		require.Equal(t, awsiam.Rejected, ds[len(ds)-1].Effect)
	}
	_, err = nodeCredentials(node)
	require.NoError(t, err)

	code, _ = post("hop-limit=2")
	require.Equal(t, http.StatusOK, code)
	_, err = nodeCredentials(bridge)
	require.NoError(t, err, "the denial rests on the hop limit")

	for _, q := range []string{"hop-limit=0", "hop-limit=65", "hop-limit=x", "http-tokens=maybe"} {
		code, _ = post(q)
		require.Equal(t, http.StatusBadRequest, code, q)
	}
	status, _ := adminDo(t, c, http.MethodGet, IMDSAdminPrefix+"gke", "")
	require.Equal(t, http.StatusNotFound, status)
}

type staticProvider aws.Credentials

func (s staticProvider) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials(s), nil
}

func TestParseIMDSFlag(t *testing.T) {
	want := IMDSConfig{Name: "eks", Port: 18100, BridgePort: 18101, RoleARN: eksNodeRole, InstanceID: "i-1", Region: "us-west-2", HopLimit: 2, RequireV2: true}
	got, err := ParseIMDSFlag(want.String())
	require.NoError(t, err)
	require.Equal(t, want, got)
	for _, bad := range []string{
		"", "name=eks", "name=eks,port=1", "name=eks,port=1,bridge-port=70000", "name=e/ks,port=1,bridge-port=2",
		"name=eks,port=1,bridge-port=2,http-tokens=maybe", "name=eks,port=1,bridge-port=2,color=red",
		"name=eks,port=x,bridge-port=2", "name=eks,port=1,bridge-port=2,hop-limit=z", "name=eks,port",
	} {
		_, err := ParseIMDSFlag(bad)
		require.Error(t, err, bad)
	}
	require.True(t, strings.HasPrefix(want.String(), "name=eks,port=18100,bridge-port=18101,role="))
}
