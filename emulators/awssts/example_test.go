package awssts_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/awssts"
	"github.com/idlab/idlab/emulators/oidc"
)

// AssumeRoleWithWebIdentity with the unmodified SDK, as a pod with IRSA
// makes it: an EKS-style issuer mints the service account's token, STS
// fetches the issuer's keys through Options.HTTPClient and judges the
// role's trust policy. Every server makes its own CA (zero CA options);
// each Client trusts its server's.
func ExampleNewServer() {
	const issuer = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE"
	issuers, err := oidc.NewServer(oidc.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer issuers.Close()
	iss, err := issuers.Handler().AddIssuer(issuer)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := iss.AddKey("RS256"); err != nil {
		log.Fatal(err)
	}

	iam, err := awsiam.New(awsiam.Options{})
	if err != nil {
		log.Fatal(err)
	}
	err = iam.LoadFixtureYAML("example.yaml", []byte(`accounts:
  - id: "111111111111"
    oidcProviders: [{url: "`+issuer+`", clientIDs: [sts.amazonaws.com]}]
    roles:
      - name: app
        trustPolicy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Federated: arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE}
              Action: sts:AssumeRoleWithWebIdentity
              Condition: {StringEquals: {"oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE:sub": system:serviceaccount:team-a:app}}
`))
	if err != nil {
		log.Fatal(err)
	}
	srv, err := awssts.NewServer(awssts.Options{IAM: iam, HTTPClient: issuers.Client()})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	client := sts.New(sts.Options{Region: "us-west-2", BaseEndpoint: aws.String(srv.URL()), HTTPClient: srv.Client()})
	for _, sa := range []string{"app", "intruder"} {
		token, err := iss.MintServiceAccountToken(oidc.TokenRequest{Namespace: "team-a", ServiceAccount: sa, Audiences: []string{"sts.amazonaws.com"}})
		if err != nil {
			log.Fatal(err)
		}
		out, err := client.AssumeRoleWithWebIdentity(context.Background(), &sts.AssumeRoleWithWebIdentityInput{
			RoleArn: aws.String("arn:aws:iam::111111111111:role/app"), RoleSessionName: aws.String("example"), WebIdentityToken: aws.String(token)})
		var ae smithy.APIError
		switch {
		case err == nil:
			fmt.Println(sa, "is", *out.AssumedRoleUser.Arn)
		case errors.As(err, &ae):
			fmt.Println(sa, "is refused:", ae.ErrorCode())
		default:
			log.Fatal(err)
		}
	}
	// Output:
	// app is arn:aws:sts::111111111111:assumed-role/app/example
	// intruder is refused: AccessDenied
}
