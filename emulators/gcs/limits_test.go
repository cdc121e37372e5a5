package gcs

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/gcpiam"
	"github.com/idlab/idlab/internal/certs"
	"github.com/idlab/idlab/internal/httplimit"
)

func TestNewServerHasLimits(t *testing.T) {
	ca, err := certs.NewCA("gcs limits test")
	require.NoError(t, err)
	iam, err := gcpiam.New(gcpiam.Options{})
	require.NoError(t, err)
	s, err := NewServer(Options{IAM: iam, CA: ca})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, httplimit.Default(), httplimit.Of(s.srv.Config))
}
