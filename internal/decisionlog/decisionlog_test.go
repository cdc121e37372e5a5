package decisionlog

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLogKeepsTheNewest(t *testing.T) {
	var l Log[int]
	l.Max = 3
	for i := range 5 {
		l.Add(i)
	}
	require.Equal(t, []int{2, 3, 4}, l.All())
	got := l.All()
	got[0] = 99
	require.Equal(t, []int{2, 3, 4}, l.All(), "All returns a copy")
	l.Reset()
	require.Empty(t, l.All())
	var d Log[string]
	d.Add("x")
	require.Equal(t, []string{"x"}, d.All(), "the zero value works")
}
