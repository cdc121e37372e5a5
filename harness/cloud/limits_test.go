package cloud

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/httplimit"
)

// The cloud listener and every IMDS listener serve with the shared limits
// (internal/httplimit proves they cut off stalled clients).
func TestListenersHaveLimits(t *testing.T) {
	c := startNodeIMDS(t)
	require.Equal(t, httplimit.Default(), httplimit.Of(c.server), "cloud listener")
	n := 0
	for _, node := range c.imds {
		for _, srv := range node.servers {
			require.Equal(t, httplimit.Default(), httplimit.Of(srv), "IMDS listener of %s", node.cfg.Name)
			n++
		}
	}
	require.Equal(t, 2, n, "the eks node's two IMDS ports")
}
