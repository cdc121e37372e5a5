package decisionlog

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDropDecisions(t *testing.T) {
	tests := []struct {
		name string
		log  func(*slog.Logger)
		kept bool
	}{
		{"a decision", func(l *slog.Logger) { l.Info("iam decision", "decision", "Allow", "principal", "p") }, false},
		{"a decision, attribute last", func(l *slog.Logger) { l.Info("eks-auth deny", "code", "x", "decision", "Deny") }, false},
		{"an error", func(l *slog.Logger) { l.Error("persist", "err", "disk full") }, true},
		{"decision only in the message", func(l *slog.Logger) { l.Info("decision", "principal", "p") }, true},
		{"through With", func(l *slog.Logger) { l.With("emulator", "iam").Info("x", "decision", "Allow") }, false},
		{"With decision is the logger's, not the line's", func(l *slog.Logger) { l.With("decision", "x").Info("started") }, true},
		{"in a group", func(l *slog.Logger) { l.WithGroup("g").Warn("w", "a", 1) }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.log(slog.New(DropDecisions(slog.NewTextHandler(&buf, nil))))
			require.Equal(t, tc.kept, buf.Len() > 0, buf.String())
		})
	}
}
