package decisionlog

import (
	"context"
	"log/slog"
)

// DecisionAttr is the attribute every emulator's decision line carries
// (decision=Allow, ImplicitDeny ...): what DropDecisions drops on.
const DecisionAttr = "decision"

// DropDecisions returns a handler passing h every record but the decision
// lines (records with a DecisionAttr attribute), which the Log holds
// anyway: at thousands of requests a second one line each to stderr costs
// more than the decisions themselves.
func DropDecisions(h slog.Handler) slog.Handler { return dropDecisions{h} }

type dropDecisions struct{ slog.Handler }

// LogsDecisions reports whether a decision line logged through log at
// level would be written: false when log drops decisions (DropDecisions)
// or the level is off. A hot path checks it before it builds the line's
// arguments, which cost allocations on every request.
func LogsDecisions(ctx context.Context, log *slog.Logger, level slog.Level) bool {
	if _, drops := log.Handler().(dropDecisions); drops {
		return false
	}
	return log.Enabled(ctx, level)
}

func (d dropDecisions) Handle(ctx context.Context, r slog.Record) error {
	drop := false
	r.Attrs(func(a slog.Attr) bool {
		drop = a.Key == DecisionAttr
		return !drop
	})
	if drop {
		return nil
	}
	return d.Handler.Handle(ctx, r)
}

func (d dropDecisions) WithAttrs(as []slog.Attr) slog.Handler {
	return dropDecisions{d.Handler.WithAttrs(as)}
}

func (d dropDecisions) WithGroup(name string) slog.Handler {
	return dropDecisions{d.Handler.WithGroup(name)}
}
