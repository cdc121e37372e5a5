package gtokenwriter

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRun: once, the token fetched for the audience is written and Run
// returns; refreshing, it is written again each period until ctx ends;
// a failed fetch or an unwritable file ends Run with the error.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gtoken")
	var calls atomic.Int32
	fetch := func(_ context.Context, path string) (string, error) {
		calls.Add(1)
		require.Equal(t, "instance/service-accounts/default/identity?audience=sts.amazonaws.com&format=full", path)
		return "token-" + string(rune('0'+calls.Load())), nil
	}

	t.Run("once", func(t *testing.T) {
		require.NoError(t, Run(t.Context(), fetch, Options{File: file, Audience: DefaultAudience}))
		got, err := os.ReadFile(file)
		require.NoError(t, err)
		require.Equal(t, "token-1", string(got))
		_, err = os.Stat(file + ".tmp")
		require.True(t, os.IsNotExist(err), "the temporary file is renamed away")
	})

	t.Run("refresh", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, fetch, Options{File: file, Audience: DefaultAudience, Refresh: true, Every: 10 * time.Millisecond})
		}()
		require.Eventually(t, func() bool { return calls.Load() >= 4 }, 5*time.Second, 5*time.Millisecond)
		cancel()
		require.NoError(t, <-done)
		got, err := os.ReadFile(file)
		require.NoError(t, err)
		require.NotEqual(t, "token-1", string(got), "a refresh wrote a newer token")
	})

	t.Run("fetch fails", func(t *testing.T) {
		boom := errors.New("metadata: GCE metadata \"instance/...\" not defined")
		err := Run(t.Context(), func(context.Context, string) (string, error) { return "", boom }, Options{File: file, Audience: DefaultAudience})
		require.ErrorIs(t, err, boom)
		require.ErrorContains(t, err, "google id token")
	})

	t.Run("unwritable", func(t *testing.T) {
		err := Run(t.Context(), fetch, Options{File: filepath.Join(dir, "missing", "gtoken"), Audience: DefaultAudience})
		require.ErrorContains(t, err, "write token")
	})
}
