package faults

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRecover(t *testing.T) {
	tests := []struct {
		name      string
		failures  int
		timeout   time.Duration
		wantErr   string
		wantCalls int
	}{
		{name: "at once", failures: 0, timeout: time.Second, wantCalls: 1},
		{name: "after three tries", failures: 3, timeout: time.Second, wantCalls: 4},
		{name: "never", failures: 1 << 30, timeout: 50 * time.Millisecond, wantErr: "not recovered after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			calls := 0
			start := time.Now().Add(-time.Second)
			took, err := Recover(ctx, start, time.Millisecond, func(context.Context) error {
				calls++
				if calls <= tc.failures {
					return errors.New("still down")
				}
				return nil
			})
			require.GreaterOrEqual(t, took, time.Second, "measured from start, not from the first check")
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.ErrorContains(t, err, "still down", "the last failure says why")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantCalls, calls)
		})
	}
	require.Equal(t, "2.5 s", Seconds(2500*time.Millisecond))
}
