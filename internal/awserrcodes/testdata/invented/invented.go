// Package invented is a fixture for awserrcodes' tests of the check: an
// STS-like emulator that answers one code its model has and one it does
// not.
package invented

import "github.com/idlab/idlab/internal/awsxml"

func deny(known bool) error {
	if known {
		return awsxml.Errorf(400, "InvalidIdentityToken", "the model has this code")
	}
	return awsxml.Errorf(400, "InventedCode", "no model has this code")
}
