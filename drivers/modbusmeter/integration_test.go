package modbusmeter_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers/modbusmeter"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/sim/meteremu"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/testclock"
)

// startBus serves the default emulated bus on a pty and opens the real
// goburrow RTU client on it at 115200 baud (the pty ignores the rate; it
// keeps goburrow's per-character waits short).
func startBus(t *testing.T, cfg meteremu.Config) (*meteremu.Bus, *modbusmeter.Bus) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	cfg.Baud = 115200
	emu, err := meteremu.Start(cfg)
	must.NoError(t, err)
	t.Cleanup(func() { emu.Close() })
	bus, err := modbusmeter.OpenBus(emu.Path(), modbusmeter.LineConfig{Baud: 115200, Timeout: 100 * time.Millisecond})
	must.NoError(t, err)
	t.Cleanup(func() { bus.Close() })
	return emu, bus
}

func newMeter(t *testing.T, c modbusmeter.Client, unit uint8, profile string, now func() time.Time) *modbusmeter.Meter {
	t.Helper()
	p, err := modbusmeter.LoadProfile(profile)
	must.NoError(t, err)
	m, err := modbusmeter.New(c, &modbusmeter.Opts{Name: profile, Port: "sim:rs485-1", Unit: unit, Profile: p, Now: now})
	must.NoError(t, err)
	return m
}

func byChannel(rs []reading.Reading) map[string]reading.Reading {
	out := map[string]reading.Reading{}
	for _, r := range rs {
		out[r.Channel] = r
	}
	return out
}

func TestIntegrationSeveralMetersOneDead(t *testing.T) {
	cfg := meteremu.DefaultConfig()
	cfg.Units = append(cfg.Units, meteremu.Unit{ID: 4, Profile: "sdm120"})
	emu, bus := startBus(t, cfg)
	emu.SetFault(4, meteremu.Fault{Dead: true})
	clk := testclock.New(time.Now())
	meters := []*modbusmeter.Meter{
		newMeter(t, bus, 1, "sdm630", clk.Now),
		newMeter(t, bus, 2, "sdm120", clk.Now),
		newMeter(t, bus, 3, "mfm383a", clk.Now),
		newMeter(t, bus, 4, "sdm120", clk.Now),
	}
	ctx := context.Background()
	for poll := range 3 {
		for i, m := range meters {
			start := time.Now()
			rs, err := m.Read(ctx)
			took := time.Since(start)
			if i == 3 {
				if err == nil {
					t.Fatalf("poll %d: dead meter read without error", poll)
				}
				if poll == 2 && !errors.Is(err, modbusmeter.ErrBackoff) {
					t.Errorf("poll %d: dead meter not backed off: %v", poll, err)
				}
				if poll < 2 {
					for _, want := range []string{"sim:rs485-1", "unit 4", "read input registers", "0x0000", "timeout"} {
						if !strings.Contains(err.Error(), want) {
							t.Errorf("error %q does not name %q", err, want)
						}
					}
				}
				// timeout 100ms × (1 + 1 retry) plus goburrow's fixed waits.
				if took > 2*100*time.Millisecond+300*time.Millisecond {
					t.Errorf("dead meter cost %v per poll", took)
				}
				continue
			}
			if err != nil {
				t.Fatalf("poll %d: %s: %v", poll, m, err)
			}
			if len(rs) != len(m.Channels()) {
				t.Errorf("%s: %d readings for %d channels", m, len(rs), len(m.Channels()))
			}
			got := byChannel(rs)
			if v := got["f"].Value; v < 49.9 || v > 50.1 {
				t.Errorf("%s: f = %v", m, v)
			}
		}
		clk.Advance(500 * time.Millisecond)
	}
	if s := meters[3].Stats(); s.Timeouts != 4 || s.Skipped != 1 || s.Failures != 2 {
		t.Errorf("dead meter stats = %+v, want 4 timeouts, 1 skipped, 2 failures", s)
	}
	if s := meters[0].Stats(); s.Requests != 3*uint64(len(meters[0].Plan())) || s.LastGood.IsZero() {
		t.Errorf("sdm630 stats = %+v", s)
	}
	// The dead meter comes back by itself once the backoff has passed.
	emu.SetFault(4, meteremu.Fault{})
	clk.Advance(10 * time.Second)
	if _, err := meters[3].Read(ctx); err != nil {
		t.Fatalf("meter did not come back: %v", err)
	}
}

func TestIntegrationFaults(t *testing.T) {
	emu, bus := startBus(t, meteremu.DefaultConfig())
	tests := []struct {
		name    string
		fault   meteremu.Fault
		wantErr string // "" = the retry absorbs it; "?" = either
		stat    func(modbusmeter.Stats) uint64
	}{
		{"bad crc once", meteremu.Fault{BadCRC: true, Count: 1}, "", func(s modbusmeter.Stats) uint64 { return s.CRCErrors }},
		{"bad crc always", meteremu.Fault{BadCRC: true}, "crc mismatch", func(s modbusmeter.Stats) uint64 { return s.CRCErrors }},
		{"illegal address", meteremu.Fault{Exception: 2}, "exception 2 (illegal data address)", func(s modbusmeter.Stats) uint64 { return s.Exceptions }},
		{"busy once", meteremu.Fault{Exception: 6, Count: 1}, "", func(s modbusmeter.Stats) uint64 { return s.Exceptions }},
		{"partial frame once", meteremu.Fault{Partial: true, Count: 1}, "", func(s modbusmeter.Stats) uint64 { return s.Timeouts }},
		// Noise before the reply is skipped: the reply is read at once.
		{"garbage before reply", meteremu.Fault{Garbage: true, Count: 1}, "", func(s modbusmeter.Stats) uint64 { return s.Line.Noise }},
		{"slow within timeout", meteremu.Fault{Delay: 50 * time.Millisecond, Count: 1}, "", func(s modbusmeter.Stats) uint64 {
			return uint64(s.MaxLatency / (50 * time.Millisecond))
		}},
		// The late reply may land in the retry's read window: the retry can
		// fail too, but the next poll must be clean.
		{"slow beyond timeout once", meteremu.Fault{Delay: 250 * time.Millisecond, Count: 1}, "?", func(s modbusmeter.Stats) uint64 { return s.Timeouts + s.CRCErrors + s.FrameErrors }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMeter(t, bus, 2, "sdm120", time.Now)
			before := tt.stat(m.Stats()) // the line's counters are the bus's, since it opened
			emu.SetFault(2, tt.fault)
			defer emu.SetFault(2, meteremu.Fault{})
			_, err := m.Read(context.Background())
			switch {
			case tt.wantErr == "?":
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Read: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Read error = %v, want %q", err, tt.wantErr)
			}
			if got := tt.stat(m.Stats()); got == before {
				t.Errorf("fault not counted: %+v", m.Stats())
			}
			// The next poll, fault cleared, is clean: no stale bytes left.
			emu.SetFault(2, meteremu.Fault{})
			if _, err := m.Read(context.Background()); err != nil {
				t.Errorf("read after fault: %v", err)
			}
		})
	}
}

func TestIntegrationEmulatorRestart(t *testing.T) {
	emu, bus := startBus(t, meteremu.DefaultConfig())
	clk := testclock.New(time.Now())
	m := newMeter(t, bus, 1, "sdm630", clk.Now)
	ctx := context.Background()
	before, err := m.Read(ctx)
	must.NoError(t, err)
	emu.Stop()
	for range 2 {
		if _, err := m.Read(ctx); !errors.Is(err, modbusmeter.ErrTimeout) {
			t.Fatalf("stopped bus: err = %v, want timeout", err)
		}
	}
	emu.Resume()
	clk.Advance(time.Hour) // past the backoff
	after, err := m.Read(ctx)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if a, b := byChannel(after)["e"], byChannel(before)["e"]; a.Value < b.Value || a.Flags != 0 {
		t.Errorf("energy went from %v to %v (flags %v)", b.Value, a.Value, a.Flags)
	}
}

func TestIntegrationCounterReset(t *testing.T) {
	emu, bus := startBus(t, meteremu.DefaultConfig())
	m := newMeter(t, bus, 3, "mfm383a", time.Now)
	if _, err := m.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	emu.ResetCounters(3)
	rs, err := m.Read(context.Background())
	must.NoError(t, err)
	if f := byChannel(rs)["e"].Flags; f&reading.CounterWentBack == 0 {
		t.Errorf("reset counter flags = %v, want counter-went-back", f)
	}
	if s := m.Stats(); s.CounterBacks != 1 {
		t.Errorf("CounterBacks = %d", s.CounterBacks)
	}
}
