package decisionlog

import (
	"bytes"
	"context"
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

func TestLogsDecisions(t *testing.T) {
	ctx := context.Background()
	text := slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelInfo})
	tests := []struct {
		name  string
		log   *slog.Logger
		level slog.Level
		want  bool
	}{
		{"decisions logged", slog.New(text), slog.LevelInfo, true},
		{"decisions dropped", slog.New(DropDecisions(text)), slog.LevelInfo, false},
		{"dropped, through With", slog.New(DropDecisions(text)).With("emulator", "iam"), slog.LevelInfo, false},
		{"dropped, in a group", slog.New(DropDecisions(text)).WithGroup("g"), slog.LevelInfo, false},
		{"level off", slog.New(text), slog.LevelDebug, false},
		{"discarded", slog.New(slog.DiscardHandler), slog.LevelInfo, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, LogsDecisions(ctx, tc.log, tc.level))
		})
	}
}
