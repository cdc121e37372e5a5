package probe

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	r, err := Parse("some log line\n{\"ok\":false,\"errorCode\":\"AccessDenied\"}\n")
	require.NoError(t, err)
	require.Equal(t, Result{ErrorCode: "AccessDenied"}, r)
	_, err = Parse("panic: boom\n")
	require.Error(t, err)
}
