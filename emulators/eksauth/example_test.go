package eksauth_test

import (
	"fmt"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/eksauth"
)

// A cluster and one pod identity association: pods of team-a/app in cluster
// lab get role app through POST /clusters/lab/assume-role-for-pod-identity.
func ExampleHandler_AddAssociation() {
	iam, err := awsiam.New(awsiam.Options{})
	if err != nil {
		panic(err)
	}
	h, err := eksauth.New(eksauth.Options{IAM: iam, Region: "us-west-2"})
	if err != nil {
		panic(err)
	}
	if err := h.AddCluster(eksauth.Cluster{Name: "lab", Account: "111111111111",
		IssuerURL: "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE"}); err != nil {
		panic(err)
	}
	a, err := h.AddAssociation(eksauth.Association{ID: "a-0123456789abcdefg", ClusterName: "lab",
		Namespace: "team-a", ServiceAccount: "app", RoleARN: "arn:aws:iam::111111111111:role/app"})
	if err != nil {
		panic(err)
	}
	fmt.Println(a.ARN)
	// Output: arn:aws:eks:us-west-2:111111111111:podidentityassociation/lab/a-0123456789abcdefg
}
