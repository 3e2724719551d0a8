package gateway_test

import (
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/drivers/sim/meteremu"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/poll"
)

// finish ends every fault, runs the agent a last time until the backlog has
// drained, stops it gracefully, and checks and prints the accounting.
func (x *chaos) finish() {
	t := x.t
	// End the faults without drawing new ones (step would).
	if !x.brokerDown.IsZero() {
		x.b.br.Restart()
		x.brokerDown = time.Time{}
		x.event("broker back", "")
	}
	if !x.diskFreeAt.IsZero() {
		x.freeDisk()
		x.diskFreeAt = time.Time{}
		x.event("disk freed", "")
	}
	if x.meter != nil {
		x.meter.SetFault(2, meteremu.Fault{})
	}
	run := chaosRun{start: time.Now(), from: x.lines()}
	cmd := exec.Command(x.cmd[0], append(x.cmd[1:], "run", "--config", x.b.cfgPath, "--drain", "60s")...)
	cmd.Stdout, cmd.Stderr = x.log, x.log
	must.NoError(t, cmd.Start())
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	poll.Until(t, time.Minute, "the last run polling", func() bool {
		now := x.lines()
		for dev, n := range run.from {
			if now[dev] <= n {
				return false
			}
		}
		return len(now) > 0
	})
	x.settle(3*time.Minute, "the last run delivering what earlier runs left")
	x.sampleMemory(cmd.Process.Pid)
	must.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	stopped = true
	if err := cmd.Wait(); err != nil {
		x.fatalf("the last run stopped with %v after SIGTERM", err)
	}
	run.end, run.to = time.Now(), x.lines()
	x.runs = append(x.runs, run)

	a := x.settle(time.Minute, "every required reading and every sequence number accounted for at the backend")
	if sum := x.c.recv.Summary(); sum.Reused > 0 || len(sum.Rejected) > 0 {
		x.failure = fmt.Sprintf("backend: %s", sum)
		t.Error(x.failure)
	}
	x.b.checkValues(t, x.c)
	if t.Failed() && x.failure == "" {
		x.failure = "values the devices did not produce: see the errors above"
	}
	x.report(a)
	if x.p.life == 0 {
		x.checkMemoryFlat()
	}
}

// settle waits until every required reading and every sequence number is
// accounted for, and fails with the report and what is missing when that
// does not happen within timeout.
func (x *chaos) settle(timeout time.Duration, what string) accounting {
	deadline := time.Now().Add(timeout)
	for {
		a := x.account()
		missing := x.c.recv.Missing("gw-001")
		if a.lost == 0 && len(missing) == 0 {
			return a
		}
		if time.Now().After(deadline) {
			x.fatalf("timed out after %s waiting for %s: %d readings lost (e.g. %s); sequence numbers missing without a record: %v",
				timeout, what, a.lost, a.example, missing[:min(len(missing), 20)])
		}
		<-time.After(100 * time.Millisecond) // polling interval
	}
}

// accounting is what became of the readings the simulated devices traced.
type accounting struct {
	produced, delivered int
	required            int // polled outside a kill's durability window, so required at the backend
	inKillWindow        int // not delivered, polled within a kill's durability window
	withFile            int // not delivered, in a damaged buffer file reported by a gap record
	lost                int // required, not delivered, not reported
	example             string
	// The readings the gap records of dropped batches (all but damaged or
	// lost files) count, less those that arrived all the same (a batch
	// dropped while it was being published). For an exact profile they
	// must equal what was not delivered; otherwise they account for that
	// many readings not delivered (dropped).
	counted, dropped int
}

// account matches the traces against what the backend received.
func (x *chaos) account() accounting {
	tr := x.b.traces(x.t)
	counts := func(g envelope.Gap) bool { return x.p.exact || !strings.Contains(g.Reason, "buffer") }
	a := accounting{counted: -x.c.receivedIn(counts)}
	x.c.mu.Lock()
	defer x.c.mu.Unlock()
	fileGap := slices.ContainsFunc(x.c.gaps, func(g envelope.Gap) bool { return strings.Contains(g.Reason, "buffer") })
	for _, g := range x.c.gaps {
		if counts(g) {
			a.counted += int(g.Readings)
		}
	}
	for dev, polls := range tr {
		used := map[int64]int{} // readings at a time already matched to a trace line
		for i, p := range polls {
			ns := p.at.UnixNano()
			a.produced += p.readings
			required := x.required(dev, i, p.at)
			if required {
				a.required += p.readings
			}
			if len(x.c.readings[dev][ns])-used[ns] >= p.readings {
				used[ns] += p.readings
				a.delivered += p.readings
				continue
			}
			switch {
			case !required:
				a.inKillWindow += p.readings
			case x.p.exact:
			case fileGap && x.beforeCorruption(dev, i):
				a.withFile += p.readings
			default:
				a.lost += p.readings
				a.example = fmt.Sprintf("%s poll %d at %s", dev, i, p.at.Format("15:04:05.000"))
			}
		}
	}
	if undelivered := a.produced - a.delivered - a.inKillWindow; x.p.exact && undelivered != a.counted {
		a.lost = undelivered - a.counted
		a.example = fmt.Sprintf("%d readings not delivered, gap records count %d", undelivered, a.counted)
	} else if !x.p.exact {
		a.dropped = min(a.lost, max(a.counted, 0))
		a.lost -= a.dropped
	}
	return a
}

// required reports whether trace line i of dev, polled at, must reach the
// backend: unless a SIGKILL ended its run within one durability window
// (plus commit latency) after it.
func (x *chaos) required(dev string, i int, at time.Time) bool {
	for _, r := range x.runs {
		if i >= r.from[dev] && i < r.to[dev] {
			return !r.killed || at.Before(r.end.Add(-chaosDurability-x.slack))
		}
	}
	return true
}

// beforeCorruption reports whether trace line i of dev was written before
// some damage to the buffer file.
func (x *chaos) beforeCorruption(dev string, i int) bool {
	for _, c := range x.corruptedAt {
		if i < c[dev] {
			return true
		}
	}
	return false
}

// report prints the run's figures.
func (x *chaos) report(a accounting) {
	sum := x.c.recv.Summary()
	x.c.mu.Lock()
	reasons := map[string][2]uint64{}
	for _, g := range x.c.gaps {
		r := reasons[g.Reason]
		reasons[g.Reason] = [2]uint64{r[0] + g.ToSeq - g.FromSeq + 1, r[1] + g.Readings}
	}
	real := 0
	for _, dev := range []string{"env-1", "co2-1", "meter-rtu"} {
		for _, rs := range x.c.readings[dev] {
			real += len(rs)
		}
	}
	depth := x.c.depth
	x.c.mu.Unlock()
	var gaps []string
	for r, n := range reasons {
		gaps = append(gaps, fmt.Sprintf("%s: %d numbers, %d readings", r, n[0], n[1]))
	}
	sort.Strings(gaps)
	var faults []string
	for k, n := range x.count {
		faults = append(faults, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(faults)
	x.done = true
	var b strings.Builder
	row := func(k string, v any) { fmt.Fprintf(&b, "  %-52s %v\n", k, v) }
	fmt.Fprintf(&b, "%s report (%s), seed %d, %s:\n", x.p.name, strings.Join(x.cmd, " "), x.seed, x.duration)
	if x.failure != "" {
		row("result", "FAIL: "+x.failure)
	} else {
		row("result", "pass")
	}
	row("readings produced (traced sim devices)", a.produced)
	row("delivered, after dedupe", a.delivered)
	row("required (outside a kill's durability window)", a.required)
	row("not delivered, in a kill's durability window", a.inKillWindow)
	row("dropped with a record: in a damaged buffer file", a.withFile)
	row("dropped with a record: gap records", strings.Join(gaps, "; "))
	if !x.p.exact {
		row("not delivered, counted by those gap records", a.dropped)
	}
	if x.p.exact {
		row("not delivered, counted by gap records (must match)", fmt.Sprintf("%d, %d", a.produced-a.delivered-a.inKillWindow, a.counted))
	}
	row("lost (must be 0)", a.lost)
	row("readings of the real drivers received", real)
	row("envelopes received / duplicates removed", fmt.Sprintf("%d / %d", sum.Envelopes, sum.Duplicates))
	row("sequence numbers missing without a record (must be 0)", len(sum.Missing))
	row("agent lives (kill -9, SIGTERM, in process)", fmt.Sprintf("%d (%d, %d, %d)", len(x.runs), x.count["kill -9"], x.count["SIGTERM"]+1, x.count["in-process stop"]))
	row("max agent memory (VmHWM)", fmt.Sprintf("%.1f MB", float64(x.maxRSS)/1024))
	row("max buffer depth (health)", fmt.Sprintf("%d batches, %d readings, %d bytes", depth.BufferBatches, depth.BufferReadings, depth.BufferBytes))
	row("faults", strings.Join(faults, ", "))
	x.t.Log("\n" + b.String())
}

// checkMemoryFlat fails the soak when the agent's resident memory in the
// last third of the run is far above the first third's.
func (x *chaos) checkMemoryFlat() {
	s := x.rssSamples
	if len(s) < 9 {
		return
	}
	first, last := slices.Max(s[:len(s)/3]), slices.Max(s[2*len(s)/3:])
	x.t.Logf("soak memory: first third max %.1f MB, last third max %.1f MB", float64(first)/1024, float64(last)/1024)
	if last > 2*first {
		x.t.Errorf("resident memory grew from %d kB to %d kB over the soak", first, last)
	}
}
