// Package testclock is the manual clock of edgegw's tests, benchmarks and
// emulators: time moves only when the test says so.
package testclock

import (
	"context"
	"sync"
	"time"
)

// Start is where a zero Clock starts.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is a manual clock: Now returns the current fake time, Advance and
// Sleep move it forward instead of waiting. The zero value starts at Start.
// It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time // zero until first read: then Start
}

// New returns a Clock set to t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	if c.t.IsZero() {
		c.t = Start
	}
	return c.t
}

// Advance moves the fake time forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.nowLocked().Add(d)
}

// Sleep advances the fake time by d at once, unless ctx is done.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}
