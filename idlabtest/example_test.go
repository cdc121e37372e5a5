package idlabtest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/idlab/idlab/idlabtest"
)

// A pod's web identity, end to end with the unmodified SDK: the issuer
// mints the service account's token, STS trades it for the role the trust
// policy gives that service account, and refuses another's.
func ExampleStartAWS() {
	lab, err := idlabtest.StartAWS(idlabtest.AWSOptions{Fixtures: []string{"testdata/iam.yaml"}})
	if err != nil {
		log.Fatal(err)
	}
	defer lab.Close()
	const role = "arn:aws:iam::111111111111:role/app"
	ctx := context.Background()
	for _, sa := range []string{"app", "intruder"} {
		token, err := lab.TokenFile("team-a", sa)
		if err != nil {
			log.Fatal(err)
		}
		out, err := sts.NewFromConfig(lab.Config(role, token)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		var ae smithy.APIError
		switch {
		case err == nil:
			fmt.Println(sa, "is", *out.Arn)
		case errors.As(err, &ae):
			fmt.Println(sa, "is refused:", ae.ErrorCode())
		default:
			log.Fatal(err)
		}
	}
	// Output:
	// app is arn:aws:sts::111111111111:assumed-role/app/idlabtest
	// intruder is refused: AccessDenied
}

// The composed cloud with the lab's own fixtures: the smoke suite's pod
// reads its bucket through S3's real host name.
func ExampleStartCloud() {
	const eks = "https://oidc.eks.us-west-2.amazonaws.com/id/72384992066C61667C0CF6C50CD43852"
	c, err := idlabtest.StartCloud(idlabtest.CloudOptions{AWSFixtures: "../fixtures/aws/lab.yaml", Issuers: []string{eks}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	token, err := c.TokenFile(eks, "idlab-smoke", "app-a")
	if err != nil {
		log.Fatal(err)
	}
	cfg := c.Config("arn:aws:iam::123456789012:role/app-a", token)
	obj, err := s3.NewFromConfig(cfg).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("app-a-data"), Key: aws.String("hello.txt")})
	if err != nil {
		log.Fatal(err)
	}
	defer obj.Body.Close()
	text, err := io.ReadAll(obj.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(text))
	// Output: hello from app-a-data
}

// GKE Workload Identity with the Google SDK and the lab's Google fixtures:
// the pod's service account idlab-gke/app-a acts as team-a-reader, whose
// binding lets it read team-a-data.
func ExampleStartGoogle() {
	g, err := idlabtest.StartGoogle(idlabtest.GoogleOptions{Fixtures: []string{"../fixtures/gcp/lab.yaml"}})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	ctx := context.Background()
	c, err := g.StorageClient(ctx, "idlab.svc.id.goog", "idlab-gke", "app-a", "team-a-reader@idlab.iam.gserviceaccount.com")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	r, err := c.Bucket("team-a-data").Object("hello.txt").NewReader(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	text, err := io.ReadAll(r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(text))
	// Output: hello from team-a-data
}

// Azure Workload Identity with azidentity and azblob and the lab's Azure
// fixtures: the pod's service account idlab-aks/app-a is federated with
// the app team-a-reader, a Storage Blob Data Reader of team-a-data only.
func ExampleStartAzure() {
	a, err := idlabtest.StartAzure(idlabtest.AzureOptions{Fixtures: []string{"../fixtures/azure/lab.yaml"}})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	token, err := a.TokenFile("idlab-aks", "app-a")
	if err != nil {
		log.Fatal(err)
	}
	cred, err := a.Credential("6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b", "a1111111-1111-4111-8111-111111111111", token)
	if err != nil {
		log.Fatal(err)
	}
	client, err := a.BlobClient("idlab", cred)
	if err != nil {
		log.Fatal(err)
	}
	for _, blob := range [][2]string{{"team-a-data", "hello.txt"}, {"team-b-data", "secret.txt"}} {
		resp, err := client.DownloadStream(context.Background(), blob[0], blob[1], nil)
		var re *azcore.ResponseError
		switch {
		case err == nil:
			text, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			fmt.Println(string(text))
		case errors.As(err, &re):
			fmt.Println(blob[0], "is refused:", re.ErrorCode)
		default:
			log.Fatal(err)
		}
	}
	// Output:
	// hello from team-a-data
	// team-b-data is refused: AuthorizationPermissionMismatch
}
