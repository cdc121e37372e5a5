package awsimds

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/httplimit"
)

func TestNewServerHasLimits(t *testing.T) {
	s, err := NewServer(Options{InstanceID: "i-0abc1234def567890"})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, httplimit.Default(), httplimit.Of(s.srv.Config))
}
