// Package decisionlog is the bounded, concurrency-safe log of allow/deny
// decisions the emulators keep for their admin endpoints (Entra, the Azure
// blob service): the newest Max entries, oldest first.
package decisionlog

import "sync"

// DefaultMax is how many decisions a Log keeps unless told otherwise.
const DefaultMax = 10000

// Log keeps the newest Max decisions of type T. The zero value is ready
// and keeps DefaultMax.
type Log[T any] struct {
	Max int

	mu  sync.Mutex
	all []T
}

// Add appends d, dropping the oldest entry when the log is full.
func (l *Log[T]) Add(d T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	limit := l.Max
	if limit <= 0 {
		limit = DefaultMax
	}
	if len(l.all) >= limit {
		l.all = append(l.all[:0:0], l.all[len(l.all)-limit+1:]...)
	}
	l.all = append(l.all, d)
}

// All returns a copy of the log, oldest first.
func (l *Log[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.all...)
}

// Reset empties the log.
func (l *Log[T]) Reset() {
	l.mu.Lock()
	l.all = nil
	l.mu.Unlock()
}
