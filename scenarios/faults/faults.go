// Package faults is the suite of faults the lab must survive: the
// emulator container restarted, a node agent killed, a cluster's
// kube-apiserver restarted. Each row shows what must hold afterwards
// (unexpired STS sessions and S3 objects survive the emulator restart,
// pods get credentials again once their agent is back, tokens issued
// before an API server restart still verify) and reports how long the
// lab took to recover.
//
// The suite breaks the lab for seconds at a time, so harness/suites runs
// it alone after every other suite (DefaultSerial, DefaultExclusive).
package faults

import (
	"context"
	"fmt"
	"time"
)

// Recover calls check every interval until it succeeds or ctx ends, and
// returns how long that took from start, which the caller takes just
// before it caused the fault; the error is check's last when ctx ended.
func Recover(ctx context.Context, start time.Time, interval time.Duration, check func(context.Context) error) (time.Duration, error) {
	for {
		err := check(ctx)
		if err == nil {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("not recovered after %s: %w", time.Since(start).Round(time.Second), err)
		case <-time.After(interval):
		}
	}
}

// Seconds formats a recovery time for the matrix.
func Seconds(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
