package drivers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers"
)

func TestSession(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s := drivers.Session{Warmup: 30 * time.Second}
	inits := 0
	init := func(context.Context) error { inits++; return nil }
	ctx := context.Background()
	if started, err := s.Start(ctx, t0, init); !started || err != nil || !s.Ready() || !s.Started().Equal(t0) {
		t.Fatalf("first Start = %v, %v", started, err)
	}
	if started, _ := s.Start(ctx, t0.Add(time.Second), init); started || inits != 1 {
		t.Errorf("Start of a ready session initialised again (%d inits)", inits)
	}
	if s.Flags(t0.Add(29*time.Second)) != drivers.WarmingUp || s.Flags(t0.Add(30*time.Second)) != 0 {
		t.Error("warm-up flags wrong")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	s.Lost(cancelled) // the caller's error, not the chip's
	if !s.Ready() {
		t.Error("Lost with a cancelled context reset the session")
	}
	s.Lost(ctx)
	if s.Ready() {
		t.Error("Lost did not reset the session")
	}
	if _, err := s.Start(ctx, t0.Add(time.Minute), func(context.Context) error { return errors.New("nack") }); err == nil || s.Ready() {
		t.Errorf("a failed init: %v, ready %v", err, s.Ready())
	}
	if started, _ := s.Start(ctx, t0.Add(2*time.Minute), init); !started || s.Flags(t0.Add(2*time.Minute)) != drivers.WarmingUp {
		t.Error("re-initialisation did not restart the warm-up")
	}
}
