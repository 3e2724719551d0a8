package gateway_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgegw/edgegw/buffer/buffertest"
	_ "github.com/edgegw/edgegw/drivers/all" // the in-process agent's drivers
	"github.com/edgegw/edgegw/drivers/sim/meteremu"
	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/gatewaytest"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/proctest"
)

var (
	chaosDuration = flag.Duration("chaos.duration", 40*time.Second, "how long TestIntegrationChaos injects faults (make chaos: 15m)")
	diskDuration  = flag.Duration("chaos.diskfull", 40*time.Second, "how long TestIntegrationChaosDiskFull injects faults (make chaos: 2m)")
	soakDuration  = flag.Duration("soak.duration", 30*time.Second, "how long TestIntegrationSoak runs (make soak: 15m)")
	chaosSeed     = flag.Uint64("chaos.seed", 0, "seed of the fault schedule; 0 draws one, which the test logs")
	chaosCmd      = flag.String("chaos.cmd", "", `command that runs edgegw, such as "qemu-aarch64-static dist/edgegw-linux-arm64"; default: a build of ./cmd/edgegw`)
)

// profile is how often each fault happens: the probability, per step of
// the schedule, that it starts (or for an agent's life, that it ends).
type profile struct {
	name string
	step time.Duration // schedule granularity
	// Agent: mean life before SIGKILL or SIGTERM (0: one life for the
	// whole run), the share of SIGTERMs, and the share of lives run in
	// process with a wall clock that jumps.
	life           time.Duration
	term, inproc   float64
	outage, bounce float64 // broker stopped (for a while) or restarted at once
	outageLen      span    // how long an outage lasts
	diskFull       float64 // the state filesystem filled, then freed
	fullLen        span    // how long it stays full
	meter          float64 // Modbus faults: garbage, silence, bad CRC, exceptions
	corrupt        float64 // per restart: the bbolt file truncated or a page overwritten
	i2cFaults      string  // fault rate of the emulated I²C bus; "" runs no real driver
	// The state filesystem: a tmpfs of this size, with this much left free
	// by a file that fills it from the start (0: none), and the buffer's
	// byte limit.
	tmpfs    string
	leave    int64
	maxBytes string
	// exact: every reading not delivered must be counted by a gap record
	// (no kill, no damaged file: nothing may be lost uncounted).
	exact bool
}

// span is a random duration from min to min+width.
type span struct{ min, width time.Duration }

var (
	chaosProfile = profile{name: "chaos", step: 250 * time.Millisecond, life: 1500 * time.Millisecond, term: 0.15, inproc: 0.08,
		outage: 0.03, bounce: 0.01, outageLen: span{500 * time.Millisecond, 7500 * time.Millisecond},
		diskFull: 0.02, fullLen: span{time.Second, 5 * time.Second}, meter: 0.1, corrupt: 0.04, i2cFaults: "0.05",
		tmpfs: "48m", maxBytes: "8MiB"}
	soakProfile = profile{name: "soak", step: time.Second, outage: 0.01, outageLen: span{500 * time.Millisecond, 7500 * time.Millisecond},
		meter: 0.02, i2cFaults: "0.01", tmpfs: "48m", maxBytes: "8MiB"}
	// diskFullProfile: the state is an 8 MiB tmpfs that another file leaves
	// 768 KiB of at the start, the buffer keeps its default 256 MiB limit, the
	// broker is away for long stretches and the rest of the disk fills up
	// for long stretches; lives end with SIGTERM. The buffer must drop the
	// oldest batches, each counted in a gap record, and lose nothing else.
	diskFullProfile = profile{name: "disk-full", step: 250 * time.Millisecond, life: 20 * time.Second, term: 1,
		outage: 0.1, outageLen: span{15 * time.Second, 25 * time.Second},
		diskFull: 0.05, fullLen: span{5 * time.Second, 25 * time.Second},
		tmpfs: "8m", leave: 768 << 10, maxBytes: "256MiB", exact: true}
)

// TestIntegrationChaos runs the real binary against a real Mosquitto (TLS,
// ACL) with emulated sensors on a noisy I²C bus and a Modbus meter on a
// pseudo-terminal, while a seeded schedule kills it (-9) and stops it, takes
// the broker away, fills the buffer's filesystem, damages the buffer file
// between runs, garbles the serial line and jumps the wall clock. At the end
// the backend must account for every sequence number (delivered, or in a
// gap record with its reason) and every reading polled outside a kill's
// durability window must have arrived.
func TestIntegrationChaos(t *testing.T) { runChaos(t, chaosProfile, *chaosDuration) }

// TestIntegrationSoak runs one agent under steady load with occasional
// broker outages and meter faults, and checks the same accounting, and that
// memory does not grow.
func TestIntegrationSoak(t *testing.T) { runChaos(t, soakProfile, *soakDuration) }

// TestIntegrationChaosDiskFull runs the real binary with its state on a
// small tmpfs that fills up while the broker is away (diskFullProfile), and
// checks that every sequence number is delivered or in a gap record, and
// that the gap records count exactly the readings that were not delivered.
func TestIntegrationChaosDiskFull(t *testing.T) { runChaos(t, diskFullProfile, *diskDuration) }

// chaos is one run of the suite: the world, the schedule and what happened.
type chaos struct {
	t     *testing.T
	p     profile
	b     *bed
	c     *collector
	rng   *rand.Rand
	cmd   []string
	slack time.Duration // commit latency allowed beyond the durability window
	meter *meteremu.Bus
	state string // the state directory
	tmpfs bool   // state is a small tmpfs that can be filled
	log   *os.File

	runs     []chaosRun
	events   []string // every fault, in order, for the log on failure
	failure  string   // why the run failed, for the report
	done     bool     // the report was printed
	seed     uint64
	duration time.Duration
	count    map[string]int
	// Trace lines per device at each buffer corruption: lines before it
	// may have been lost with the file, reported by a gap record.
	corruptedAt []map[string]int
	brokerDown  time.Time // zero when up; else when it comes back
	diskFreeAt  time.Time // zero when not full
	freeDisk    func()    // removes the file that fills the state filesystem
	maxRSS      int64     // kB, VmHWM of the agent processes
	rssSamples  []int64   // kB, VmRSS over the soak
}

// chaosRun is one life of the agent.
type chaosRun struct {
	start, end time.Time
	killed     bool           // by SIGKILL: the last durability window may be lost
	from, to   map[string]int // trace lines per device before and after it
}

const chaosDurability = 300 * time.Millisecond

func runChaos(t *testing.T, p profile, d time.Duration) {
	seed := *chaosSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("%s: seed %d, duration %s (rerun: -chaos.seed %d)", p.name, seed, d, seed)
	x := &chaos{t: t, p: p, rng: rand.New(rand.NewPCG(seed, 8)), slack: 250 * time.Millisecond, count: map[string]int{}, seed: seed, duration: d}
	x.setup(seed)
	defer x.reportFailure()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		x.life(deadline)
	}
	x.finish()
}

// setup builds the world: a state directory on a tmpfs where the machine
// allows mounting one, else the buffer byte limit stands in for a full
// disk; a meter emulator; the bed with the real drivers on emulated buses.
func (x *chaos) setup(seed uint64) {
	t := x.t
	if testing.Short() {
		t.Skip("integration test")
	}
	x.cmd = strings.Fields(*chaosCmd)
	if len(x.cmd) == 0 {
		x.cmd = []string{proctest.Edgegw(t)}
	}
	if strings.Contains(x.cmd[0], "qemu") {
		x.slack *= 8 // an emulated CPU commits more slowly
	}
	x.state = filepath.Join(t.TempDir(), "state")
	must.NoError(t, os.Mkdir(x.state, 0o700))
	maxBytes := x.p.maxBytes
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+x.p.tmpfs+",mode=0700", "tmpfs", x.state).CombinedOutput(); err == nil {
		x.tmpfs = true
		t.Cleanup(func() { exec.Command("umount", x.state).Run() })
	} else if x.p.leave > 0 {
		t.Skipf("the %s profile needs a small tmpfs for the state: %v: %s", x.p.name, err, bytes.TrimSpace(out))
	} else {
		maxBytes = "256KiB"
		t.Logf("no tmpfs for the state (%v: %s): a 256KiB buffer limit stands in for a full disk", err, bytes.TrimSpace(out))
	}
	if x.p.leave > 0 {
		base := filepath.Join(x.state, "base")
		must.NoError(t, os.Mkdir(base, 0o700))
		buffertest.FillDiskLeaving(t, base, x.p.leave)
	}
	var devices []string
	if x.p.i2cFaults != "" {
		var err error
		x.meter, err = meteremu.Start(meteremu.DefaultConfig())
		must.NoError(t, err)
		t.Cleanup(func() { x.meter.Close() })
		i2c := fmt.Sprintf("sim:i2c-1?faults=%s&seed=%d", x.p.i2cFaults, seed)
		devices = []string{
			fmt.Sprintf("{name: env-1, driver: bme280, interval: 500ms, class: telemetry, options: {bus: %q, addr: 0x76}}", i2c),
			fmt.Sprintf("{name: co2-1, driver: scd4x, interval: 5s, class: telemetry, options: {bus: %q, warmup: 0s}}", i2c),
			fmt.Sprintf("{name: meter-rtu, driver: modbusmeter, interval: 1s, class: personal, options: {port: %s, unit: 2, profile: sdm120, timeout: 200ms, backoff_max: 2s}}", x.meter.Path()),
		}
	}
	x.b = newBed(t, bedOptions{durability: chaosDurability, maxDelay: 400 * time.Millisecond, maxBytes: maxBytes, maxReadings: 100, state: x.state,
		devices: devices})
	x.c = x.b.subscribe(t, "city/+/health")
	var err error
	x.log, err = os.Create(filepath.Join(x.b.dir, "agent.log"))
	must.NoError(t, err)
	t.Cleanup(func() {
		x.log.Close()
		if t.Failed() {
			out, _ := os.ReadFile(x.log.Name())
			if len(out) > 64<<10 {
				out = out[len(out)-64<<10:]
			}
			t.Logf("faults: %s\nagent log (end):\n%s", strings.Join(x.events, ", "), out)
		}
	})
}

// event records a fault.
func (x *chaos) event(kind, detail string) {
	x.count[kind]++
	x.events = append(x.events, fmt.Sprintf("%s %s%s", time.Now().Format("15:04:05.000"), kind, detail))
}

// chance reports true with probability p.
func (x *chaos) chance(p float64) bool { return p > 0 && x.rng.Float64() < p }

// life runs the agent once: maybe damages the buffer first, starts the
// binary (or an in-process agent with a jumping clock), injects faults on
// the schedule, and ends it with SIGKILL or SIGTERM; a profile without
// lives runs one agent until the deadline.
func (x *chaos) life(deadline time.Time) {
	if x.chance(x.p.corrupt) {
		x.corruptBuffer()
	}
	end := deadline
	if x.p.life > 0 {
		if e := time.Now().Add(time.Duration(x.rng.ExpFloat64() * float64(x.p.life))); e.Before(deadline) {
			end = e
		}
	}
	run := chaosRun{start: time.Now(), from: x.lines()}
	if x.chance(x.p.inproc) {
		x.runInProcess(end)
	} else {
		run.killed = x.runBinary(end)
	}
	run.end = time.Now()
	run.to = x.lines()
	x.runs = append(x.runs, run)
}

// runBinary runs the real binary until end, then kills it; it reports
// whether that was a SIGKILL.
func (x *chaos) runBinary(end time.Time) bool {
	t := x.t
	cmd := exec.Command(x.cmd[0], append(x.cmd[1:], "run", "--config", x.b.cfgPath)...)
	cmd.Stdout, cmd.Stderr = x.log, x.log
	must.NoError(t, cmd.Start())
	started := time.Now()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for time.Now().Before(end) {
		select {
		case err := <-exited:
			x.fatalf("the agent exited by itself: %v", err)
		case <-time.After(x.p.step): // the schedule's clock, not a wait for a condition
		}
		x.step(cmd.Process.Pid)
	}
	x.sampleMemory(cmd.Process.Pid)
	if x.p.life > 0 && !x.chance(x.p.term) {
		x.event("kill -9", "")
		must.NoError(t, cmd.Process.Kill())
		<-exited
		return true
	}
	// A SIGTERM before the Go runtime has started main (and installed the
	// agent's handler) ends the process at once, as for any program; the
	// schedule's SIGTERMs test the agent's graceful stop, so they come once
	// it can have started.
	if early := 4*x.slack - time.Since(started); early > 0 {
		select {
		case err := <-exited:
			x.fatalf("the agent exited by itself: %v", err)
		case <-time.After(early): // the schedule's clock
		}
	}
	x.event("SIGTERM", "")
	must.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		if err != nil {
			x.fatalf("the agent stopped with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		x.fatalf("the agent did not stop within 30s of SIGTERM")
	}
	return false
}

// runInProcess runs the agent in this process with a wall clock that jumps
// back or forward by up to two hours, once or twice, and stops it
// gracefully.
func (x *chaos) runInProcess(end time.Time) {
	clock := &gatewaytest.WallClock{}
	_, stop := startAgentWith(x.t, x.b, gateway.Deps{Now: clock.Now, Logger: slog.New(slog.NewTextHandler(x.log, nil))})
	jumps := 1 + x.rng.IntN(2)
	for time.Now().Before(end) || jumps > 0 {
		<-time.After(x.p.step) // the schedule's clock
		if jumps > 0 && x.chance(0.3) {
			d := time.Duration(x.rng.Int64N(int64(4*time.Hour))) - 2*time.Hour
			clock.Jump(d)
			x.event("clock jump", " "+d.Round(time.Second).String())
			jumps--
		}
		x.step(0)
	}
	x.event("in-process stop", "")
	if err := stop(); err != nil {
		x.fatalf("the in-process agent stopped with %v", err)
	}
}

// fatalf fails the run with a reason that the report states.
func (x *chaos) fatalf(format string, args ...any) {
	x.t.Helper()
	x.failure = fmt.Sprintf(format, args...)
	x.t.Fatal(x.failure)
}

// reportFailure prints the report of a run that failed before its end,
// with the reason.
func (x *chaos) reportFailure() {
	if x.done || !x.t.Failed() {
		return
	}
	if x.failure == "" {
		x.failure = "a check failed: see the errors above"
	}
	x.report(x.account())
}

// step ends the faults that are due and starts new ones at random.
func (x *chaos) step(pid int) {
	now := time.Now()
	if !x.brokerDown.IsZero() && now.After(x.brokerDown) {
		x.b.br.Restart()
		x.brokerDown = time.Time{}
		x.event("broker back", "")
	}
	if !x.diskFreeAt.IsZero() && now.After(x.diskFreeAt) {
		x.freeDisk()
		x.diskFreeAt = time.Time{}
		x.event("disk freed", "")
	}
	switch {
	case x.brokerDown.IsZero() && x.chance(x.p.outage):
		d := x.p.outageLen.draw(x.rng)
		x.b.br.Stop()
		x.brokerDown = now.Add(d)
		x.event("broker outage", " "+d.Round(time.Millisecond).String())
	case x.brokerDown.IsZero() && x.chance(x.p.bounce):
		x.b.br.Restart() // with its persistent sessions and retained messages
		x.event("broker restart", "")
	case x.tmpfs && x.diskFreeAt.IsZero() && x.chance(x.p.diskFull):
		x.freeDisk = buffertest.FillDisk(x.t, x.state)
		d := x.p.fullLen.draw(x.rng)
		x.diskFreeAt = now.Add(d)
		x.event("disk full", " "+d.Round(time.Millisecond).String())
	case x.meter != nil && x.chance(x.p.meter):
		x.meterFault()
	}
	if pid > 0 && x.p.life == 0 {
		x.sampleMemory(pid)
	}
}

// draw returns a random duration within s.
func (s span) draw(r *rand.Rand) time.Duration {
	return s.min + time.Duration(r.Int64N(int64(s.width)+1))
}

// meterFault garbles the serial line or silences the meter for a few
// requests, or silences the whole line for a moment.
func (x *chaos) meterFault() {
	n := 1 + x.rng.IntN(6)
	faults := []struct {
		name string
		f    meteremu.Fault
	}{
		{"garbage", meteremu.Fault{Garbage: true, Count: n}},
		{"silence", meteremu.Fault{Dead: true, Count: n}},
		{"bad CRC", meteremu.Fault{BadCRC: true, Count: n}},
		{"partial frame", meteremu.Fault{Partial: true, Count: n}},
		{"exception", meteremu.Fault{Exception: 4, Count: n}},
	}
	f := faults[x.rng.IntN(len(faults))]
	x.meter.SetFault(2, f.f)
	x.event("meter "+f.name, fmt.Sprintf(" ×%d", n))
}

// corruptBuffer truncates the stopped agent's bbolt file or overwrites one
// of its pages with noise, within the pages bbolt uses (the file is longer:
// its space is allocated in advance).
func (x *chaos) corruptBuffer() {
	path := filepath.Join(x.state, gateway.BufferFile)
	used := boltPages(path)
	if used < 4 {
		return // not created yet, or nothing in it
	}
	const page = 4096
	if x.chance(0.5) {
		n := 2 + x.rng.Int64N(used-2)
		must.NoError(x.t, os.Truncate(path, n*page))
		x.event("buffer truncated", fmt.Sprintf(" to %d of %d pages", n, used))
	} else {
		noise := make([]byte, page)
		for i := range noise {
			noise[i] = byte(x.rng.UintN(256))
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		must.NoError(x.t, err)
		n := 2 + x.rng.Int64N(used-2)
		_, err = f.WriteAt(noise, n*page)
		must.NoError(x.t, errors.Join(err, f.Close()))
		x.event("buffer page overwritten", fmt.Sprintf(" %d of %d", n, used))
	}
	x.corruptedAt = append(x.corruptedAt, x.lines())
}

// boltPages returns the number of pages a bbolt file uses (the high-water
// mark in its newer meta page, 4 KiB pages), or 0 when it has none.
func boltPages(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var hwm uint64
	for _, off := range []int64{0, 4096} { // the two meta pages
		b := make([]byte, 8)
		// The meta follows the 16-byte page header: magic, version, page
		// size, flags (4 bytes each), root bucket (16), freelist (8),
		// then the high-water mark.
		if _, err := f.ReadAt(b, off+16+16+16+8); err == nil {
			hwm = max(hwm, binary.LittleEndian.Uint64(b))
		}
	}
	return int64(hwm)
}

// sampleMemory records the agent's peak and current resident memory.
func (x *chaos) sampleMemory(pid int) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		name, value, _ := strings.Cut(line, ":")
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "VmHWM":
			x.maxRSS = max(x.maxRSS, kb)
		case "VmRSS":
			x.rssSamples = append(x.rssSamples, kb)
		}
	}
}

// lines counts the trace lines of each simulated device.
func (x *chaos) lines() map[string]int {
	out := map[string]int{}
	for dev, polls := range x.b.traces(x.t) {
		out[dev] = len(polls)
	}
	return out
}
