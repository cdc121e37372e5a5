package awsiam

import (
	"fmt"
	"testing"
)

// BenchmarkPutRolePolicy: an IAM API change costs the same whatever the
// number of roles: a name lookup in an index and one entity file.
//
//	go test -run '^$' -bench PutRolePolicy ./emulators/awsiam/
func BenchmarkPutRolePolicy(b *testing.B) {
	for _, roles := range []int{10, 10000} {
		b.Run(fmt.Sprintf("roles=%d", roles), func(b *testing.B) {
			i, err := New(Options{DataDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = i.Close() })
			for n := range roles {
				if err := i.AddRole(Role{Account: mAcct, Name: fmt.Sprintf("r%d", n), TrustPolicy: mTrust}); err != nil {
					b.Fatal(err)
				}
			}
			for n := 0; b.Loop(); n++ {
				if err := i.PutRolePolicy(mAcct, "r7", fmt.Sprintf("p%d", n%8), mRead); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
