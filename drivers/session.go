package drivers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edgegw/edgegw/drivers/reading"
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
func (s *Session) Flags(now time.Time) reading.Flags {
	if now.Sub(s.started) < s.Warmup {
		return reading.WarmingUp
	}
	return 0
}

// Stamp gives the readings of one poll their time, now to the millisecond,
// and their flags (see Flags), and returns them.
func (s *Session) Stamp(rs []reading.Reading, now time.Time) []reading.Reading {
	flags := s.Flags(now)
	for i := range rs {
		rs[i].Time, rs[i].Flags = now.Truncate(time.Millisecond), flags
	}
	return rs
}

// Readings returns the readings of device for one poll at now, vals[i] on
// chans[i] in its unit, stamped (see Stamp).
func (s *Session) Readings(device string, chans []reading.Channel, vals []float64, now time.Time) []reading.Reading {
	rs := make([]reading.Reading, len(chans))
	for i, c := range chans {
		rs[i] = reading.Reading{Device: device, Channel: c.Name, Value: vals[i], Unit: c.Unit}
	}
	return s.Stamp(rs, now)
}

// Poll is the Read of a chip driver: it initialises the chip when needed
// (onStart, if set, runs after each start), reads it, and marks it lost
// after an error, unless the error is ErrNoData or matches one of transient
// (a corrupted frame, say: the chip is still there). Errors start with the
// instance name dev.
func (s *Session) Poll(ctx context.Context, dev fmt.Stringer, now func() time.Time, init func(context.Context) error, onStart func(),
	read func(context.Context) ([]reading.Reading, error), transient ...error) ([]reading.Reading, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", dev, err)
	}
	started, err := s.Start(ctx, now(), init)
	if err != nil {
		return nil, fmt.Errorf("%s: init: %w", dev, err)
	}
	if started && onStart != nil {
		onStart()
	}
	rs, err := read(ctx)
	if err == nil {
		return rs, nil
	}
	lost := !errors.Is(err, ErrNoData)
	for _, t := range transient {
		lost = lost && !errors.Is(err, t)
	}
	if lost {
		s.Lost(ctx)
	}
	return nil, fmt.Errorf("%s: %w", dev, err)
}
