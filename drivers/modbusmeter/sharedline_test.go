package modbusmeter_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"

	"golang.org/x/sys/unix"

	"github.com/edgegw/edgegw/drivers/modbusmeter"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/sim/meteremu"
	"github.com/edgegw/edgegw/internal/poll"
	"github.com/edgegw/edgegw/internal/testclock"
)

// startLine serves the default emulated bus at the given baud rate and
// opens the real RTU client on it with the given reply timeout.
func startLine(t *testing.T, baud int, timeout time.Duration) (*meteremu.Bus, *modbusmeter.Bus) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	cfg := meteremu.DefaultConfig()
	cfg.Baud = baud
	emu, err := meteremu.Start(cfg)
	must.NoError(t, err)
	t.Cleanup(func() { emu.Close() })
	bus, err := modbusmeter.OpenBus(emu.Path(), modbusmeter.LineConfig{Baud: baud, Timeout: timeout})
	must.NoError(t, err)
	t.Cleanup(func() { bus.Close() })
	return emu, bus
}

// checkValues compares a meter's readings with what the emulated unit
// reported while the poll ran, from..to: a value from another register
// block, or from another unit, is far off.
func checkValues(emu *meteremu.Bus, unit uint8, rs []reading.Reading, from, to time.Time) error {
	got := byChannel(rs)
	for _, ch := range []string{"v1", "i2", "f", "e"} {
		r, ok := got[ch]
		if !ok {
			return fmt.Errorf("no %s reading", ch)
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := range 101 {
			v, _ := emu.Value(unit, ch, from.Add(to.Sub(from)*time.Duration(i)/100))
			lo, hi = min(lo, v), max(hi, v)
		}
		if tol := 1e-4 * max(1, math.Abs(r.Value)); r.Value < lo-tol || r.Value > hi+tol {
			return fmt.Errorf("%s = %v, the meter had %v..%v during the poll", ch, r.Value, lo, hi)
		}
	}
	return nil
}

// readChecked polls m once and checks its values against the emulator.
func readChecked(ctx context.Context, emu *meteremu.Bus, m *modbusmeter.Meter, unit uint8) error {
	from := time.Now()
	rs, err := m.Read(ctx)
	if err != nil {
		return err
	}
	return checkValues(emu, unit, rs, from, time.Now())
}

// TestIntegrationSlowMeterSharedLine: on one RS-485 line at 19200 baud, a
// healthy SDM630 at unit 1 and an SDM120 at unit 2 that answers later than
// the 300 ms timeout (0.5 s, 2 s), the emulator sending the late reply
// while it serves unit 1. Both are polled every second as the gateway
// polls them (their own goroutines, ticks on the same grid, missed ticks
// skipped, each poll bounded by the interval). The healthy meter keeps at
// least 95 % of its polls, each with the values the meter had, and is
// never backed off.
func TestIntegrationSlowMeterSharedLine(t *testing.T) {
	const polls = 20
	for _, delay := range []time.Duration{500 * time.Millisecond, 2 * time.Second} {
		t.Run(delay.String(), func(t *testing.T) {
			emu, bus := startLine(t, 19200, 300*time.Millisecond)
			healthy := newMeter(t, bus, 1, "sdm630", time.Now)
			slow := newMeter(t, bus, 2, "sdm120", time.Now)
			emu.SetFault(2, meteremu.Fault{Delay: delay})
			var (
				mu   sync.Mutex
				good int
				bad  []string
			)
			origin := time.Now().Truncate(time.Second)
			var wg sync.WaitGroup
			for _, m := range []*modbusmeter.Meter{healthy, slow} {
				wg.Go(func() {
					for k := 1; k <= polls; k++ {
						tick := origin.Add(time.Duration(k) * time.Second)
						if time.Now().After(tick) {
							continue // overrun: the gateway skips a missed tick
						}
						timer := time.NewTimer(time.Until(tick))
						<-timer.C // the poll grid, as the gateway's scheduler keeps it
						ctx, cancel := context.WithTimeout(context.Background(), time.Second)
						if m != healthy {
							m.Read(ctx)
							cancel()
							continue
						}
						err := readChecked(ctx, emu, m, 1)
						cancel()
						mu.Lock()
						if err != nil {
							bad = append(bad, fmt.Sprintf("poll %d: %v", k, err))
						} else {
							good++
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			hs, ss := healthy.Stats(), slow.Stats()
			t.Logf("unit 1: %d of %d polls good; stats %+v; line %+v", good, polls, hs, *hs.Line)
			t.Logf("unit 2: stats %+v", ss)
			if good < polls*95/100 {
				t.Errorf("the healthy meter kept %d of %d polls:\n%s", good, polls, strings.Join(bad, "\n"))
			}
			if hs.Skipped > 0 {
				t.Errorf("the healthy meter was backed off for %d polls", hs.Skipped)
			}
			if ss.Timeouts == 0 {
				t.Errorf("the slow meter never timed out: %+v", ss)
			}
		})
	}
}

// staleRequest is the request a previous process sent to unit 1 before it
// died: 36 registers from the SDM630's energy block, as many as the
// first request of the SDM630's plan (the voltage block) reads.
var staleRequest = meteremu.Frame(1, []byte{modbusmeter.ReadInput, 0x01, 0x56, 0x00, 36})

// previousProcess opens the port as another process would and sends
// staleRequest; the caller closes it (the process dies).
func previousProcess(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	must.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(staleRequest); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestIntegrationStaleReplyAfterRestart: a process killed while its request
// was on the line leaves a reply behind (of the energy block, as long as
// the voltage block a new process reads first). Whether the reply already
// waits in the port's input queue when the new process opens the port, or
// arrives after the new process sent its own request, the new process
// never reports it as values: every reading is the meter's.
func TestIntegrationStaleReplyAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	cfg := meteremu.DefaultConfig()
	cfg.Baud, cfg.Parity, cfg.StopBits = 0, "", 0 // the old process's line setting is not ours to know
	start := func(t *testing.T) *meteremu.Bus {
		emu, err := meteremu.Start(cfg)
		must.NoError(t, err)
		t.Cleanup(func() { emu.Close() })
		return emu
	}
	// newProcess is the SDM630 at unit 1 of a process that opens the line
	// after the old one died; the meter answers its first request after
	// delay.
	newProcess := func(t *testing.T, emu *meteremu.Bus, delay time.Duration) *modbusmeter.Meter {
		emu.SetFault(1, meteremu.Fault{Delay: delay, Count: 1})
		bus, err := modbusmeter.OpenBus(emu.Path(), modbusmeter.LineConfig{Baud: 115200, Timeout: time.Second})
		must.NoError(t, err)
		t.Cleanup(func() { bus.Close() })
		return newMeter(t, bus, 1, "sdm630", time.Now)
	}
	t.Run("waiting in the queue", func(t *testing.T) {
		emu := start(t)
		prev := previousProcess(t, emu.Path())
		poll.Until(t, 5*time.Second, "the late reply queued", func() bool {
			n, err := unix.IoctlGetInt(int(prev.Fd()), unix.TIOCINQ)
			return err == nil && n == 5+2*36
		})
		prev.Close()
		// The new request is answered a little later, so that a read
		// right after it finds the old reply alone.
		m := newProcess(t, emu, 100*time.Millisecond)
		if err := readChecked(context.Background(), emu, m, 1); err != nil {
			t.Fatalf("first poll after the restart: %v", err)
		}
	})
	t.Run("arriving after the request", func(t *testing.T) {
		emu := start(t)
		// The old reply comes 300 ms after the old request: time enough for
		// the new process to open the port and send its request first, even
		// on a loaded machine.
		emu.SetFault(1, meteremu.Fault{Delay: 300 * time.Millisecond, Count: 1})
		previousProcess(t, emu.Path()).Close()
		poll.Until(t, 5*time.Second, "the emulator taking the old request", func() bool { return emu.Requests(1) == 1 })
		// The new process's first request is answered after the old one,
		// within the line's timeout.
		m := newProcess(t, emu, 600*time.Millisecond)
		for poll := range 3 {
			if err := readChecked(context.Background(), emu, m, 1); err != nil {
				t.Errorf("poll %d after the restart: %v", poll, err)
			}
		}
		if s := m.Stats(); s.Implausible != 1 {
			t.Errorf("stats = %+v, want the stale reply discarded as implausible once", s)
		}
	})
}

// TestIntegrationSlowReplyIsATimeout: a reply later than the time a poll
// has reads as a timeout naming port, unit and function, not as the
// poll's context ending.
func TestIntegrationSlowReplyIsATimeout(t *testing.T) {
	emu, bus := startLine(t, 9600, 300*time.Millisecond)
	m := newMeter(t, bus, 2, "sdm120", time.Now)
	emu.SetFault(2, meteremu.Fault{Delay: 2 * time.Second})
	for _, poll := range []time.Duration{250 * time.Millisecond, 5 * time.Second} {
		ctx, cancel := context.WithTimeout(context.Background(), poll)
		_, err := m.Read(ctx)
		cancel()
		if !errors.Is(err, modbusmeter.ErrTimeout) {
			t.Fatalf("poll of %v: %v, want a timeout", poll, err)
		}
		for _, want := range []string{"sim:rs485-1", "unit 2", "read input registers", "timeout: no reply within"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("poll of %v: %q does not name %q", poll, err, want)
			}
		}
		if strings.Contains(err.Error(), "deadline exceeded") {
			t.Errorf("poll of %v: %q", poll, err)
		}
	}
}

// TestIntegrationLineBusyNotBackedOff: a poll whose deadline passes while
// another unit's failing transaction holds the line fails with
// ErrLineBusy, and the unit is not backed off for it.
func TestIntegrationLineBusyNotBackedOff(t *testing.T) {
	emu, bus := startLine(t, 9600, 300*time.Millisecond)
	healthy := newMeter(t, bus, 1, "sdm630", time.Now)
	clk := testclock.New(time.Now())
	dead := newMeter(t, bus, 3, "mfm383a", clk.Now)
	emu.SetFault(3, meteremu.Fault{Dead: true})
	for i := range 3 {
		clk.Advance(time.Hour) // past the dead unit's backoff: it takes the line each time
		before := emu.Requests(3)
		done := make(chan struct{})
		go func() {
			defer close(done)
			dead.Read(context.Background())
		}()
		poll.Until(t, 5*time.Second, "the dead unit's request on the line", func() bool { return emu.Requests(3) > before })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := healthy.Read(ctx)
		cancel()
		<-done
		if !errors.Is(err, modbusmeter.ErrLineBusy) || !strings.Contains(err.Error(), "unit 1") || !strings.Contains(err.Error(), emu.Path()) {
			t.Fatalf("poll %d: %v, want line busy naming unit 1 and the port", i, err)
		}
	}
	if s := healthy.Stats(); s.Busy != 3 || s.Failures != 0 || !s.BackoffUntil.IsZero() {
		t.Errorf("healthy meter stats = %+v, want 3 busy and no failure", s)
	}
	if _, err := healthy.Read(context.Background()); err != nil {
		t.Errorf("healthy meter after the busy polls: %v", err)
	}
}

// logRecords is a slog handler that keeps the records it gets.
type logRecords struct {
	mu sync.Mutex
	rs []slog.Record
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rs = append(h.rs, r.Clone())
	return nil
}
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecords) WithGroup(string) slog.Handler      { return h }

// TestAnswersAgainLog: "meter answers again" is logged without an err
// attribute: the meter has no error then.
func TestAnswersAgainLog(t *testing.T) {
	emu, bus := memBus(t, meteremu.DefaultConfig())
	p, _ := modbusmeter.LoadProfile("sdm120")
	logs := &logRecords{}
	m, err := modbusmeter.New(bus, &modbusmeter.Opts{Port: "p", Unit: 2, Profile: p, Logger: slog.New(logs)})
	must.NoError(t, err)
	emu.SetFault(2, meteremu.Fault{Dead: true})
	if _, err := m.Read(context.Background()); err == nil {
		t.Fatal("dead meter read")
	}
	emu.SetFault(2, meteremu.Fault{})
	if _, err := m.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range logs.rs {
		if r.Message != "meter answers again" {
			continue
		}
		found = true
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" {
				t.Errorf("%q logged with err=%v", r.Message, a.Value)
			}
			return true
		})
	}
	if !found {
		t.Error(`no "meter answers again" record`)
	}
}
