package gateway

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/gateway/gatewaytest"
)

// fakeSensor reports one reading per poll, taking delay to answer.
type fakeSensor struct {
	name  string
	delay time.Duration
}

func (f *fakeSensor) String() string { return "fake@" + f.name }
func (f *fakeSensor) Halt() error    { return nil }
func (f *fakeSensor) Read(ctx context.Context) ([]reading.Reading, error) {
	start := time.Now()
	select {
	case <-time.After(f.delay): // the device's own response time
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return []reading.Reading{{Device: f.name, Channel: "x", Value: 1, Time: start}}, nil
}

// TestSchedulerTicksOnGridAndIsolatesSlowDevices: a device that takes longer
// than its interval skips ticks and counts overruns, while a fast device
// polls on every tick of its wall-clock grid, undelayed.
func TestSchedulerTicksOnGridAndIsolatesSlowDevices(t *testing.T) {
	const interval = 200 * time.Millisecond
	mk := func(name string, delay time.Duration) *device {
		return &device{name: name, class: "telemetry", interval: interval, sensor: &fakeSensor{name, delay},
			valid: newValidator(nil), humidity: &humidity{threshold: 85}, log: slog.New(slog.DiscardHandler)}
	}
	fast, slow := mk("fast", 0), mk("slow", 450*time.Millisecond)
	out := make(chan poll, 100)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, d := range []*device{fast, slow} {
		wg.Go(func() { d.run(ctx, time.Now, func() bool { return true }, out) })
	}
	var fastTimes []time.Time
	started := false // the poll at start comes first, off the grid
	for len(fastTimes) < 8 {
		p := <-out
		if p.readings[0].Device == "fast" {
			if started {
				fastTimes = append(fastTimes, p.readings[0].Time)
			}
			started = true
		}
	}
	cancel()
	wg.Wait()
	for i, at := range fastTimes {
		off := at.Sub(at.Truncate(interval))
		if off > interval/2 {
			t.Errorf("fast poll %d at %v is %v after its tick", i, at.Format("15:04:05.000"), off)
		}
		if i > 0 {
			if k := at.Truncate(interval).Sub(fastTimes[i-1].Truncate(interval)) / interval; k != 1 {
				t.Errorf("fast polls %d and %d are %d ticks apart, want 1", i-1, i, k)
			}
		}
	}
	if st := slow.snapshot(); st.Overruns == 0 || st.Polls == 0 {
		t.Errorf("slow device stats %+v: want polls and overruns", st)
	}
	if st := fast.snapshot(); st.Overruns != 0 {
		t.Errorf("fast device overran %d times", st.Overruns)
	}
}

// TestSchedulerPollsAtStart: a device polls once as it starts, not at its
// first tick an interval away, then keeps to its grid.
func TestSchedulerPollsAtStart(t *testing.T) {
	const interval = time.Hour
	d := &device{name: "slow-grid", class: "telemetry", interval: interval, sensor: &fakeSensor{"slow-grid", 0},
		valid: newValidator(nil), humidity: &humidity{threshold: 85}, log: slog.New(slog.DiscardHandler)}
	out := make(chan poll, 10)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	start := time.Now()
	wg.Go(func() { d.run(ctx, time.Now, func() bool { return true }, out) })
	defer func() { cancel(); wg.Wait() }()
	select {
	case p := <-out:
		if at := p.readings[0].Time; at.Sub(start) > time.Second {
			t.Fatalf("first poll at %v, %v after the start", at, at.Sub(start))
		}
	case <-time.After(10 * time.Second): // a deadline: the next tick is up to an hour away
		t.Fatal("no poll at start")
	}
	select {
	case p := <-out:
		t.Fatalf("a second poll at %v, before the next tick of the grid", p.readings[0].Time)
	default:
	}
	if st := d.snapshot(); st.Polls != 1 || st.Overruns != 0 {
		t.Fatalf("stats after the start poll = %+v, want 1 poll and no overrun", st)
	}
}

// TestSchedulerSurvivesClockJumps: after the wall clock jumps back an hour,
// or forward a day, the device keeps polling on its interval.
func TestSchedulerSurvivesClockJumps(t *testing.T) {
	const interval = 50 * time.Millisecond
	clock := &gatewaytest.WallClock{}
	d := &device{name: "dev", class: "telemetry", interval: interval, sensor: &fakeSensor{"dev", 0},
		valid: newValidator(nil), humidity: &humidity{threshold: 85}, log: slog.New(slog.DiscardHandler)}
	out := make(chan poll, 100)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { d.run(ctx, clock.Now, func() bool { return true }, out) })
	defer func() { cancel(); wg.Wait() }()
	polls := func(n int, what string) {
		t.Helper()
		deadline := time.After(20 * interval * time.Duration(n))
		for range n {
			select {
			case <-out:
			case <-deadline:
				t.Fatalf("%s: fewer than %d polls within %v", what, n, 20*interval*time.Duration(n))
			}
		}
	}
	polls(3, "start")
	clock.Jump(-time.Hour)
	polls(5, "after the clock went back an hour")
	clock.Jump(24 * time.Hour)
	polls(5, "after the clock went forward a day")
}
