package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/components/gtoken"
)

// TestTokenFileIsTheWebhooks: the writer's default file is where the
// webhook points AWS_WEB_IDENTITY_TOKEN_FILE.
func TestTokenFileIsTheWebhooks(t *testing.T) {
	require.Equal(t, gtoken.TokenFile, tokenFile)
}
