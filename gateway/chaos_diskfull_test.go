package gateway_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/buffer/buffertest"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/poll"
	"github.com/edgegw/edgegw/internal/proctest"
)

// TestIntegrationDiskFull reproduces a full state filesystem with the real
// binary: an 8 MiB tmpfs that another file leaves 1 MiB of, the default
// 256 MiB buffer limit, the broker down. Then another file takes the rest of
// the disk. The agent keeps polling and committing, drops the oldest
// batches with disk-full gap records, and stops cleanly on SIGTERM. Once the
// disk and the broker are back, the backend has every sequence number,
// delivered or in a gap record, and the gap records count exactly the
// readings that were not delivered. Where no tmpfs can be mounted, a 256 KiB
// buffer limit stands in for the disk, as in the chaos suite.
func TestIntegrationDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	state := filepath.Join(t.TempDir(), "state")
	must.NoError(t, os.Mkdir(state, 0o700))
	maxBytes, reason := "256MiB", buffer.ReasonDiskFull
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", state).CombinedOutput(); err == nil {
		t.Cleanup(func() { exec.Command("umount", state).Run() })
		base := filepath.Join(state, "base")
		must.NoError(t, os.Mkdir(base, 0o700))
		buffertest.FillDiskLeaving(t, base, 1<<20)
	} else {
		maxBytes, reason = "256KiB", buffer.ReasonMaxBytes
		t.Logf("no tmpfs for the state (%v: %s): a 256KiB buffer limit stands in for a full disk", err, bytes.TrimSpace(out))
	}
	b := newBed(t, bedOptions{durability: 300 * time.Millisecond, maxDelay: 400 * time.Millisecond, maxBytes: maxBytes, maxReadings: 100, state: state})
	c := b.subscribe(t)
	bin := proctest.Edgegw(t)
	logf := proctest.ChildLog(t, filepath.Join(b.dir, "agent.log"), "agent log", 32<<10)
	agentLog := func() string {
		out, _ := os.ReadFile(logf.Name())
		return string(out)
	}
	run := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"run", "--config", b.cfgPath}, args...)...)
		proctest.Start(t, cmd, logf)
		return cmd
	}
	stop := func(cmd *exec.Cmd) {
		t.Helper()
		must.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		if err := cmd.Wait(); err != nil {
			t.Fatalf("the agent stopped with %v after SIGTERM", err)
		}
	}

	b.br.Stop()
	cmd := run()
	poll.Until(t, 30*time.Second, "the first polls", func() bool { return produced(b.traces(t)) > 0 })
	free := func() {}
	if maxBytes == "256MiB" {
		free = buffertest.FillDisk(t, state) // and another file takes the rest
	}
	poll.Until(t, 4*time.Minute, "the buffer dropping the oldest batches", func() bool {
		return strings.Contains(agentLog(), "no disk space left for new ones") || strings.Contains(agentLog(), "buffer dropped batches")
	})
	// Some more polls while full, then a graceful stop on the full disk.
	n := produced(b.traces(t))
	poll.Until(t, 30*time.Second, "more polls on the full disk", func() bool { return produced(b.traces(t)) > n+500 })
	stop(cmd)
	if strings.Contains(agentLog(), "buffer commit failed") {
		t.Error("a commit failed: the buffer did not keep within its space")
	}

	free()
	b.br.Restart()
	cmd = run("--drain", "30s")
	tr := b.traces(t)
	poll.Until(t, 2*time.Minute, "every sequence number delivered or in a gap record, the gaps counting what was not delivered", func() bool {
		sum := c.recv.Summary()
		undelivered := produced(tr) - countTraced(c, tr)
		return sum.GapRecords > 0 && len(c.recv.Missing("gw-001")) == 0 && undelivered == int(sum.Dropped)-c.receivedDropped()
	})
	stop(cmd)
	sum := c.recv.Summary()
	c.mu.Lock()
	for _, g := range c.gaps {
		if g.Reason != reason {
			t.Errorf("gap record %+v, want reason %s", g, reason)
		}
	}
	c.mu.Unlock()
	b.checkValues(t, c)
	t.Logf("produced %d readings before the restart, %d gap records count %d dropped; backend: %s", produced(tr), sum.GapRecords, sum.Dropped, sum)
}

// countTraced counts the readings of the polls in tr that the backend
// received.
func countTraced(c *collector, tr map[string][]tracedPoll) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for dev, polls := range tr {
		for _, p := range polls {
			n += min(len(c.readings[dev][p.at.UnixNano()]), p.readings)
		}
	}
	return n
}
