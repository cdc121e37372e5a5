package awsiam_test

import (
	"fmt"

	"github.com/idlab/idlab/emulators/awsiam"
)

// A trust policy decides AssumeRoleWithWebIdentity for an EKS service account.
func ExampleEvaluate() {
	host := "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE"
	provider := "arn:aws:iam::111111111111:oidc-provider/" + host
	trust := awsiam.MustParsePolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"AppA","Effect":"Allow",
		"Principal":{"Federated":"` + provider + `"},"Action":"sts:AssumeRoleWithWebIdentity",
		"Condition":{"StringEquals":{"` + host + `:sub":"system:serviceaccount:team-a:app-a"}}}]}`)
	for _, sub := range []string{"system:serviceaccount:team-a:app-a", "system:serviceaccount:team-b:app-a"} {
		d := awsiam.Evaluate(awsiam.EvalInput{ResourceOnly: true, Request: awsiam.Request{
			Principal:          awsiam.Principal{Type: awsiam.PrincipalWebIdentity, ARN: provider, FederatedProvider: host},
			Action:             "sts:AssumeRoleWithWebIdentity",
			Resource:           "arn:aws:iam::111111111111:role/app-a",
			ResourcePolicy:     trust,
			ResourcePolicyName: "trust policy of app-a",
			Context:            map[string][]string{host + ":sub": {sub}},
		}})
		fmt.Println(d.Effect)
	}
	// Output:
	// Allow
	// ImplicitDeny
}

func ExampleParsePolicy() {
	_, err := awsiam.ParsePolicy([]byte(`{"Version":"2012-10-17","Statement":{"Action":"s3:*","Resource":"*"}}`))
	fmt.Println(err)
	p, _ := awsiam.ParsePolicy([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}`))
	fmt.Println(p.ValidateFor(awsiam.IdentityPolicy))
	// Output:
	// Missing required field Effect
	// Policy document should not specify a principal.
}
