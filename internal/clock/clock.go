// Package clock is the lab's adjustable clock: emulators take its Now so
// tests can move time forward (token and credential expiry) without sleeping.
package clock

import (
	"sync"
	"time"
)

// Clock is real time plus an offset that only grows. The zero value is the
// real clock. It is safe for concurrent use.
type Clock struct {
	mu     sync.RWMutex
	offset time.Duration
	base   func() time.Time
}

// New returns a clock reading base (time.Now when nil) plus the offset.
func New(base func() time.Time) *Clock { return &Clock{base: base} }

// Now returns the current lab time.
func (c *Clock) Now() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	b := c.base
	if b == nil {
		b = time.Now
	}
	return b().Add(c.offset)
}

// Advance moves the clock forward by d; a negative d is ignored so time never
// runs backwards under an emulator. It returns the new offset.
func (c *Clock) Advance(d time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.offset += d
	}
	return c.offset
}

// Offset returns how far the clock has been moved.
func (c *Clock) Offset() time.Duration {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.offset
}
