package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMetadataBase: the raw fallback asks the endpoint the SDK was pointed
// at, so a pod sent to another node's proxy reports that proxy's answer.
func TestMetadataBase(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{env: "", want: "http://169.254.169.254"},
		{env: "http://172.18.0.3:8181", want: "http://172.18.0.3:8181"},
		{env: "http://172.18.0.3:8181/", want: "http://172.18.0.3:8181"},
	} {
		got := metadataBase(func(k string) string {
			if k == "AWS_EC2_METADATA_SERVICE_ENDPOINT" {
				return tc.env
			}
			return ""
		})
		require.Equal(t, tc.want, got)
	}
}
