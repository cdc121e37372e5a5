package idlabtest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"

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
