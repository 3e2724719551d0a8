package drivers

import (
	"context"
	"time"
)

// Session is a chip's initialisation state. A driver initialises the chip on
// the first Read and again after the chip was lost (unplugged, reset,
// browned out), and flags the readings of the warm-up that follows.
type Session struct {
	Warmup  time.Duration // readings within this of the start are flagged WarmingUp
	ready   bool
	started time.Time
}

// Start initialises the chip with init unless it is ready, and reports
// whether it did. A failed init leaves the chip to be initialised again.
func (s *Session) Start(ctx context.Context, now time.Time, init func(context.Context) error) (bool, error) {
	if s.ready {
		return false, nil
	}
	if err := init(ctx); err != nil {
		return false, err
	}
	s.ready, s.started = true, now
	return true, nil
}

// Lost marks the chip to be initialised again at the next Read, unless ctx
// ended: then the error came from the caller, not from the chip.
func (s *Session) Lost(ctx context.Context) {
	if ctx.Err() == nil {
		s.ready = false
	}
}

// Reset marks the chip to be initialised again at the next Read.
func (s *Session) Reset() { s.ready = false }

// Ready reports whether the chip is initialised.
func (s *Session) Ready() bool { return s.ready }

// Started returns when the chip was last initialised.
func (s *Session) Started() time.Time { return s.started }

// Flags returns WarmingUp during the warm-up after the start.
func (s *Session) Flags(now time.Time) Flags {
	if now.Sub(s.started) < s.Warmup {
		return WarmingUp
	}
	return 0
}
