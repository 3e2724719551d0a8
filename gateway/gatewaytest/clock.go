// Package gatewaytest holds test support shared by the gateway's tests.
package gatewaytest

import (
	"sync"
	"time"
)

// WallClock is a wall clock that a test sets forward or back, as NTP or a
// technician does. Its times carry no monotonic reading, so every duration
// computed from them sees the jumps, as durations between times read back
// from disk or truncated to a grid do. The zero value reads the real time.
type WallClock struct {
	mu  sync.Mutex
	off time.Duration
}

// Now returns the real time moved by all jumps so far.
func (c *WallClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off).Round(0)
}

// Jump moves the clock by d (back when negative).
func (c *WallClock) Jump(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}
