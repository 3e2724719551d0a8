package drivers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/reading"
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
	if s.Flags(t0.Add(29*time.Second)) != reading.WarmingUp || s.Flags(t0.Add(30*time.Second)) != 0 {
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
	if started, _ := s.Start(ctx, t0.Add(2*time.Minute), init); !started || s.Flags(t0.Add(2*time.Minute)) != reading.WarmingUp {
		t.Error("re-initialisation did not restart the warm-up")
	}
}

// TestSessionReadings: the readings of one poll carry the device, each
// channel's name and unit, the poll's time to the millisecond, and the
// warm-up flag only within the warm-up.
func TestSessionReadings(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	s := drivers.Session{Warmup: 30 * time.Second}
	if _, err := s.Start(context.Background(), t0, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	chans := []reading.Channel{{Name: "t", Unit: reading.Celsius}, {Name: "rh", Unit: reading.RelHumid}}
	at := t0.Add(10*time.Second + 1234567*time.Nanosecond)
	rs := s.Readings("env", chans, []float64{21.5, 40}, at)
	want := []reading.Reading{
		{Device: "env", Channel: "t", Value: 21.5, Unit: reading.Celsius, Time: t0.Add(10*time.Second + time.Millisecond), Flags: reading.WarmingUp},
		{Device: "env", Channel: "rh", Value: 40, Unit: reading.RelHumid, Time: t0.Add(10*time.Second + time.Millisecond), Flags: reading.WarmingUp},
	}
	if len(rs) != len(want) {
		t.Fatalf("Readings = %+v, want %+v", rs, want)
	}
	for i := range want {
		if rs[i] != want[i] {
			t.Errorf("reading %d = %+v, want %+v", i, rs[i], want[i])
		}
	}
	if rs := s.Stamp([]reading.Reading{{Channel: "t"}}, t0.Add(30*time.Second)); rs[0].Flags != 0 || !rs[0].Time.Equal(t0.Add(30*time.Second)) {
		t.Errorf("Stamp after the warm-up = %+v, want no flags", rs[0])
	}
}

type name string

func (n name) String() string { return string(n) }

func TestSessionPoll(t *testing.T) {
	var s drivers.Session
	ctx := context.Background()
	now := func() time.Time { return time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) }
	inits, starts := 0, 0
	init := func(context.Context) error { inits++; return nil }
	errCRC := errors.New("crc mismatch")
	poll := func(err error) error {
		_, got := s.Poll(ctx, name("chip@bus"), now, init, func() { starts++ }, func(context.Context) ([]reading.Reading, error) { return nil, err }, errCRC)
		return got
	}
	if err := poll(nil); err != nil || inits != 1 || starts != 1 {
		t.Fatalf("first poll: %v, %d inits, %d starts", err, inits, starts)
	}
	for _, transient := range []error{errCRC, drivers.ErrNoData} {
		if err := poll(transient); err == nil || err.Error() != "chip@bus: "+transient.Error() || !s.Ready() {
			t.Errorf("transient %v: %v, ready %v", transient, err, s.Ready())
		}
	}
	if err := poll(errors.New("nack")); err == nil || s.Ready() {
		t.Errorf("a lost chip: %v, ready %v", err, s.Ready())
	}
	if err := poll(nil); err != nil || inits != 2 || starts != 2 {
		t.Errorf("after a loss: %v, %d inits, %d starts; want the chip initialised again", err, inits, starts)
	}
}
