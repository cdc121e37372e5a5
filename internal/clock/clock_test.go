package clock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAdvance(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New(func() time.Time { return base })
	require.Equal(t, base, c.Now())
	require.Equal(t, time.Hour, c.Advance(time.Hour))
	require.Equal(t, base.Add(time.Hour), c.Now())
	c.Advance(-2 * time.Hour)
	require.Equal(t, base.Add(time.Hour), c.Now(), "time never runs backwards")
	var zero Clock
	require.WithinDuration(t, time.Now(), zero.Now(), time.Second)
}
