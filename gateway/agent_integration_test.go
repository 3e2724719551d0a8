package gateway_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/config"
	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/gateway/doctor"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/poll"
	"github.com/edgegw/edgegw/internal/proctest"
)

// startAgent runs an in-process agent on the bed's configuration and returns
// a function that stops it gracefully and returns Run's error.
func startAgent(t *testing.T, b *bed, drain time.Duration) (*gateway.Agent, func() error) {
	t.Helper()
	return startAgentWith(t, b, gateway.Deps{Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})), DrainOnStop: drain})
}

// startAgentWith is startAgent with the agent's dependencies given.
func startAgentWith(t *testing.T, b *bed, deps gateway.Deps) (*gateway.Agent, func() error) {
	t.Helper()
	cfg, err := config.Load(b.cfgPath)
	must.NoError(t, err)
	a, err := gateway.New(cfg, deps, nil)
	must.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { stop() })
	return a, stop
}

// TestIntegrationBrokerOutage: the agent publishes, the broker is stopped
// while several batches close, then restarted; the backend receives every
// sequence number exactly once after dedupe, with the values the devices
// produced.
func TestIntegrationBrokerOutage(t *testing.T) {
	b := newBed(t, bedOptions{durability: 200 * time.Millisecond, maxDelay: 300 * time.Millisecond, maxBytes: "64MiB", maxReadings: 100})
	c := b.subscribe(t)
	a, stop := startAgent(t, b, 20*time.Second)

	poll.Until(t, 30*time.Second, "first readings at the backend", func() bool { return c.count() > 0 })
	b.br.Stop()
	poll.Until(t, 30*time.Second, "5 batches buffered during the outage", func() bool { return a.Health().BufferBatches >= 5 })
	received := c.count()
	b.br.Restart()
	poll.Until(t, 30*time.Second, "the backlog drained", func() bool { return c.count() > received && a.Health().BufferBatches == 0 })
	must.NoError(t, stop())

	tr := b.traces(t)
	poll.Until(t, 30*time.Second, "every produced reading at the backend", func() bool { return c.count() == produced(tr) })
	if m := c.missing(tr, func(string, time.Time) bool { return true }); len(m) > 0 {
		t.Errorf("%d polls missing, e.g. %v", len(m), m[0])
	}
	b.checkValues(t, c)
	sum := c.recv.Summary()
	if len(sum.Missing) > 0 || sum.Reused > 0 || sum.GapRecords > 0 {
		t.Errorf("backend summary: %s", sum)
	}
	t.Logf("backend: %s", sum)
}

// TestIntegrationBufferFull: with the broker down, the buffer reaches its
// byte limit and drops its oldest batches; the signed gap record that
// reports them reaches the backend with exact counts once the broker is up.
func TestIntegrationBufferFull(t *testing.T) {
	b := newBed(t, bedOptions{durability: 100 * time.Millisecond, maxDelay: 200 * time.Millisecond, maxBytes: "64KiB", maxReadings: 50})
	c := b.subscribe(t)
	b.br.Stop()
	a, stop := startAgent(t, b, 20*time.Second)
	poll.Until(t, 60*time.Second, "the buffer dropping batches", func() bool { return a.Health().DroppedBatches >= 3 })
	b.br.Restart()
	must.NoError(t, stop())
	h := a.Health()

	// Every produced reading is received or reported dropped; a batch
	// dropped while the uplink was publishing it is both.
	tr := b.traces(t)
	poll.Until(t, 30*time.Second, "every kept reading and every gap record at the backend", func() bool {
		return c.recv.Summary().Dropped >= h.DroppedReadings &&
			c.count()-c.receivedDropped() == produced(tr)-int(h.DroppedReadings)
	})
	sum := c.recv.Summary()
	if sum.GapRecords == 0 || sum.Dropped != h.DroppedReadings {
		t.Errorf("backend saw %d gap records reporting %d dropped readings; the agent dropped %d", sum.GapRecords, sum.Dropped, h.DroppedReadings)
	}
	if len(sum.Missing) > 0 {
		t.Errorf("sequence numbers missing without a gap record: %v", c.recv.Missing("gw-001"))
	}
	b.checkValues(t, c)
	t.Logf("agent dropped %d batches / %d readings; backend: %s", h.DroppedBatches, h.DroppedReadings, sum)
}

// TestIntegrationKill9 kills a real `edgegw run` child process with SIGKILL
// at random points, 24 times, including while the broker is down and while
// the backlog drains. Every reading produced more than one durability window
// before each kill must reach the backend, and no sequence number is reused
// or skipped.
func TestIntegrationKill9(t *testing.T) {
	const durability = 300 * time.Millisecond
	b := newBed(t, bedOptions{durability: durability, maxDelay: 400 * time.Millisecond, maxBytes: "64MiB", maxReadings: 100})
	bin := proctest.Edgegw(t)
	c := b.subscribe(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	t.Logf("seed-independent schedule, random kill points")

	type run struct{ start, kill time.Time }
	var runs []run
	logf := proctest.ChildLog(t, filepath.Join(b.dir, "agent.log"), "agent log", 0)
	for i := range 24 {
		switch i {
		case 8:
			b.br.Stop() // kills 8..13 happen during an outage
		case 14:
			b.br.Restart() // kills 14..17 happen while the backlog drains
		}
		cmd := exec.Command(bin, "run", "--config", b.cfgPath)
		cmd.Stdout, cmd.Stderr = logf, logf
		start := time.Now()
		must.NoError(t, cmd.Start())
		<-time.After(time.Duration(300+rng.IntN(1200)) * time.Millisecond) // a random kill point, not a wait for a condition
		kill := time.Now()
		must.NoError(t, cmd.Process.Kill())
		cmd.Wait()
		runs = append(runs, run{start, kill})
	}
	// Readings of a killed run are required unless they were polled within
	// one durability window (plus scheduling slack) before its kill.
	inKilledRun := func(at time.Time) (run, bool) {
		for _, r := range runs {
			if !at.Before(r.start) && at.Before(r.kill) {
				return r, true
			}
		}
		return run{}, false
	}
	requiredKilled := func(_ string, at time.Time) bool {
		r, ok := inKilledRun(at)
		return ok && at.Before(r.kill.Add(-durability-100*time.Millisecond))
	}
	// A last run drains everything and stops gracefully: it loses nothing.
	cmd := exec.Command(bin, "run", "--config", b.cfgPath, "--drain", "20s")
	cmd.Stdout, cmd.Stderr = logf, logf
	lastStart := time.Now()
	must.NoError(t, cmd.Start())
	stopped := false
	t.Cleanup(func() {
		if !stopped { // the test failed before the graceful stop
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	poll.Until(t, 60*time.Second, "the last run polling and delivering the killed runs' readings", func() bool {
		tr := b.traces(t)
		polling := false
		for _, ps := range tr {
			polling = polling || (len(ps) > 0 && ps[len(ps)-1].at.After(lastStart))
		}
		return polling && len(c.missing(tr, requiredKilled)) == 0
	})
	// The agent, connected and polling, listens on no TCP or UDP port.
	socks, err := doctor.ListeningSockets(cmd.Process.Pid)
	if err != nil || len(socks) > 0 {
		t.Errorf("the running agent's listening sockets: %v, %v", socks, err)
	}
	must.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	stopped = true
	must.NoError(t, cmd.Wait())

	tr := b.traces(t)
	required := func(dev string, at time.Time) bool {
		if _, killed := inKilledRun(at); killed {
			return requiredKilled(dev, at)
		}
		return true
	}
	poll.Until(t, 60*time.Second, "every required reading at the backend", func() bool { return len(c.missing(tr, required)) == 0 })
	b.checkValues(t, c)
	sum := c.recv.Summary()
	if sum.Reused > 0 {
		t.Errorf("%d sequence numbers reused", sum.Reused)
	}
	if len(sum.Missing) > 0 {
		t.Errorf("sequence numbers skipped: %v", c.recv.Missing("gw-001"))
	}
	t.Logf("24 kills; produced %d readings, received %d; backend: %s", produced(tr), c.count(), sum)
}

// TestIntegrationControlSocket drives the running agent through its control
// socket as a technician would: status, a one-off read, a device disabled
// and enabled, a flush. Every change is in the local audit trail at once and
// reaches the backend through the real broker as signed audit records on
// city/gw-001/audit, numbered in the gateway's sequence.
func TestIntegrationControlSocket(t *testing.T) {
	b := newBed(t, bedOptions{durability: 200 * time.Millisecond, maxDelay: 300 * time.Millisecond, maxBytes: "64MiB", maxReadings: 100})
	c := b.subscribe(t, "city/+/audit")
	_, stop := startAgent(t, b, 10*time.Second)
	ctx := context.Background()
	cl := control.Dial(filepath.Join(b.dir, "control.sock"))
	var st control.Status
	poll.Until(t, 30*time.Second, "the control socket answering with devices polled", func() bool {
		var err error
		st, err = cl.Status(ctx)
		return err == nil && len(st.Devices) == 3 && st.Devices[0].Polls > 0
	})
	if st.Gateway != "gw-001" || st.ConfigVersion != 3 || st.Devices[2].Name != "meter-1" || st.Devices[2].Driver != "sim" {
		t.Errorf("status = %+v", st)
	}
	rs, err := cl.Read(ctx, "meter-1")
	if err != nil || len(rs) != 12 {
		t.Fatalf("read meter-1 = %d readings, %v", len(rs), err)
	}
	if _, err := cl.Read(ctx, "toaster"); !errors.Is(err, control.ErrNotFound) {
		t.Errorf("read of an unknown device: %v, want not found", err)
	}
	must.NoError(t, cl.SetDeviceEnabled(ctx, "aq-2", false))
	if st, _ := cl.Status(ctx); st.Devices[1].Enabled {
		t.Error("aq-2 still enabled")
	}
	must.NoError(t, cl.SetDeviceEnabled(ctx, "aq-2", true))
	if _, err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	trail, err := cl.Audit(ctx, 100)
	must.NoError(t, err)
	var actions []string
	for _, e := range trail {
		if e.Result == "ok" {
			actions = append(actions, e.Action)
		}
	}
	if strings.Join(actions, " ") != "device.read device.disable device.enable buffer.flush" {
		t.Errorf("audited changes = %v", actions)
	}
	poll.Until(t, 30*time.Second, "the audit records at the backend", func() bool { return c.recv.Summary().Audits == uint64(len(trail)) })
	must.NoError(t, stop())
	// The one-off read is in the sim's trace but, shown to the technician
	// only, it is not buffered.
	poll.Until(t, 30*time.Second, "all scheduled polls after the stop", func() bool {
		return c.count() == produced(b.traces(t))-len(rs)
	})
	if sum := c.recv.Summary(); len(sum.Missing) > 0 || len(sum.Rejected) > 0 {
		t.Errorf("backend: %s (audit records share the gateway's sequence numbers)", sum)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !strings.Contains(string(c.audits[len(c.audits)-1]), `"action":"buffer.flush"`) {
		t.Errorf("last audit record received: %s", c.audits[len(c.audits)-1])
	}
}

// TestIntegrationBufferExport: with the uplink down, a technician exports
// the sealed backlog through the control socket; the backend opens the
// export, checks it against the signed manifest, and later receives the same
// batches from the broker too, counting every reading once.
func TestIntegrationBufferExport(t *testing.T) {
	b := newBed(t, bedOptions{durability: 200 * time.Millisecond, maxDelay: 300 * time.Millisecond, maxBytes: "64MiB", maxReadings: 100})
	c := b.subscribe(t, "city/+/audit") // the export holds the audit records of the flush
	b.br.Stop()
	a, stop := startAgent(t, b, 20*time.Second)
	poll.Until(t, 30*time.Second, "batches buffered with the uplink down", func() bool { return a.Health().BufferBatches >= 3 })
	ctx := context.Background()
	cl := control.Dial(filepath.Join(b.dir, "control.sock"))
	if _, err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dir, err := backend.NewExportDir(t.TempDir(), "gw-001", "test")
	must.NoError(t, err)
	manifest, err := cl.Export(ctx, func(x control.ExportedBatch) error { return dir.Add(x.Seq, x.Class, x.Envelope) })
	must.NoError(t, err)
	n, err := dir.Finish(manifest)
	must.NoError(t, err)
	if n < 3 {
		t.Fatalf("exported %d batches", n)
	}
	var out, errOut strings.Builder
	sum, err := backend.Open(ctx, c.recv, backend.Options{Dirs: []string{dir.Path}}, &out, &errOut)
	if err != nil || sum.Envelopes != uint64(n) || sum.Readings == 0 || strings.Count(out.String(), "\n") != int(sum.Readings+sum.Audits+sum.GapRecords) {
		t.Fatalf("open --dir: %v; %s; %d lines\n%s", err, sum, strings.Count(out.String(), "\n"), errOut.String())
	}
	// A file lost on the way is reported against the signed manifest.
	files, _ := filepath.Glob(filepath.Join(dir.Path, "*.env"))
	must.NoError(t, os.Remove(files[0]))
	if _, err := backend.Open(ctx, backend.NewReceiver(b.trust, b.rks...), backend.Options{Dirs: []string{dir.Path}}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "not in it") {
		t.Errorf("open of an export missing a file: %v", err)
	}

	b.br.Restart()
	must.NoError(t, stop())
	tr := b.traces(t)
	poll.Until(t, 30*time.Second, "every reading, and the exported batches again from the broker", func() bool {
		sum := c.recv.Summary()
		return sum.Readings == uint64(produced(tr)) && sum.Duplicates >= uint64(n)
	})
	if sum := c.recv.Summary(); sum.Readings != uint64(produced(tr)) || len(sum.Missing) > 0 {
		t.Errorf("backend: %s; want %d readings counted once, no gap", sum, produced(tr))
	}
}
