package existing

// The suite's names: the lab file's cluster, its kind name, the namespace
// of its pods, the role the fixture makes, and the rows.
const (
	ClusterName = "existing"
	KindName    = "idlab-existing"
	Namespace   = "idlab-existing"
	Region      = "us-west-2"
	RoleARN     = "arn:aws:iam::123456789012:role/existing-app"

	RowOwnToken   = "cluster-issuer-token"
	RowOtherSA    = "other-sa"
	RowForeignKey = "key-not-in-jwks"
)
