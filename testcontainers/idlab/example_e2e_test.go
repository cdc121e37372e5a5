//go:build e2e

package idlab_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/testcontainers/testcontainers-go"

	"github.com/idlab/idlab/testcontainers/idlab"
)

// A test starts the emulators in a container (the image `make image`
// built), mints a pod's service-account token from the container's issuer
// and calls STS with the role it assumes.
func Example() {
	const issuer = "https://oidc.eks.us-west-2.amazonaws.com/id/TESTCONTAINERS"
	ctx := context.Background()
	c, err := idlab.Run(ctx, idlab.DefaultImage, idlab.WithAWSFixtures("testdata/aws.yaml"), idlab.WithIssuers(issuer))
	defer func() { _ = testcontainers.TerminateContainer(c) }()
	if err != nil {
		fmt.Println(err)
		return
	}
	tokenFile, err := c.TokenFile(ctx, issuer, "team-a", "app")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := c.AWSConfig("arn:aws:iam::111111111111:role/app", tokenFile)
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(aws.ToString(id.Arn))
	// Output: arn:aws:sts::111111111111:assumed-role/app/idlab-testcontainers
}
