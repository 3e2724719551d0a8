// Package controltest holds test fakes of the control package's Agent and
// Auditor, and serves a control.Server for a test.
package controltest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/internal/poll"
)

// Agent is a fake control.Agent over a fixed set of devices. Its exported
// fields may be set before use; the methods are safe for concurrent use.
type Agent struct {
	// State is what Status returns; Enabled flags of its devices follow
	// SetDeviceEnabled.
	State control.Status
	// Readings are what Read returns per device; a device is known when it
	// is in State.Devices.
	Readings map[string][]reading.Reading
	// Polls feeds Watch: each Watch call gets its own channel that
	// receives these polls (filtered by device) and is then closed, unless
	// Follow is set, in which case it stays open until the watch ends.
	Polls  [][]reading.Reading
	Follow bool
	// Exported is what Export hands out, and Manifest what it returns.
	Exported []control.ExportedBatch
	Manifest []byte
	// Err, when set, is returned by every call that can fail.
	Err error

	mu      sync.Mutex
	calls   []string
	watches []context.Context
}

var _ control.Agent = (*Agent)(nil)

func (a *Agent) called(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, fmt.Sprintf(format, args...))
}

// Calls returns the calls that reached the agent, e.g. "read aq-1",
// "flush", "log-level debug", "disable aq-1", "watch aq-1".
func (a *Agent) Calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

// Watches returns the contexts of the Watch calls so far.
func (a *Agent) Watches() []context.Context {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]context.Context(nil), a.watches...)
}

func (a *Agent) known(device string) error {
	for _, d := range a.State.Devices {
		if d.Name == device {
			return nil
		}
	}
	return fmt.Errorf("%q: %w", device, control.ErrUnknownDevice)
}

// Status returns State.
func (a *Agent) Status() control.Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.State
	st.Devices = append([]control.DeviceStatus(nil), st.Devices...)
	return st
}

// Watch streams Polls.
func (a *Agent) Watch(ctx context.Context, device string) (<-chan []reading.Reading, error) {
	a.called("watch %s", device)
	if device != "" {
		if err := a.known(device); err != nil {
			return nil, err
		}
	}
	if a.Err != nil {
		return nil, a.Err
	}
	a.mu.Lock()
	a.watches = append(a.watches, ctx)
	a.mu.Unlock()
	ch := make(chan []reading.Reading)
	go func() {
		defer close(ch)
		for _, p := range a.Polls {
			if device != "" && (len(p) == 0 || p[0].Device != device) {
				continue
			}
			select {
			case ch <- p:
			case <-ctx.Done():
				return
			}
		}
		if a.Follow {
			<-ctx.Done()
		}
	}()
	return ch, nil
}

// Read returns Readings[device].
func (a *Agent) Read(_ context.Context, device string) ([]reading.Reading, error) {
	a.called("read %s", device)
	if err := a.known(device); err != nil {
		return nil, err
	}
	return a.Readings[device], a.Err
}

// Flush records the call.
func (a *Agent) Flush(context.Context) error {
	a.called("flush")
	return a.Err
}

// SetLogLevel records the call.
func (a *Agent) SetLogLevel(level string) error {
	a.called("log-level %s", level)
	return a.Err
}

// SetDeviceEnabled sets the device's Enabled flag in State.
func (a *Agent) SetDeviceEnabled(device string, enabled bool) error {
	op := "disable"
	if enabled {
		op = "enable"
	}
	a.called("%s %s", op, device)
	if err := a.known(device); err != nil {
		return err
	}
	if a.Err != nil {
		return a.Err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.State.Devices {
		if a.State.Devices[i].Name == device {
			a.State.Devices[i].Enabled = enabled
		}
	}
	return nil
}

// ApplyConfig records the call and returns version 1.
func (a *Agent) ApplyConfig(_ context.Context, yaml []byte) (uint64, error) {
	a.called("apply %d bytes", len(yaml))
	return 1, a.Err
}

// Export hands out Exported and returns Manifest.
func (a *Agent) Export(ctx context.Context, emit func(control.ExportedBatch) error) ([]byte, error) {
	a.called("export")
	if a.Err != nil {
		return nil, a.Err
	}
	for _, b := range a.Exported {
		if err := emit(b); err != nil {
			return nil, err
		}
	}
	return a.Manifest, nil
}

// ErrAuditFull is what Auditor.Record returns when Fail is set.
var ErrAuditFull = errors.New("audit bucket full")

// Auditor is an in-memory control.Auditor.
type Auditor struct {
	mu     sync.Mutex
	events []control.Event
	fail   bool
}

var _ control.Auditor = (*Auditor)(nil)

// Fail makes Record fail (with ErrAuditFull) or succeed again.
func (a *Auditor) Fail(fail bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = fail
}

// Record appends e.
func (a *Auditor) Record(e control.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return ErrAuditFull
	}
	a.events = append(a.events, e)
	return nil
}

// Trail returns the newest limit events, oldest first.
func (a *Auditor) Trail(limit int) ([]control.Event, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := max(len(a.events)-limit, 0)
	return append([]control.Event(nil), a.events[n:]...), nil
}

// Events returns every recorded event.
func (a *Auditor) Events() []control.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]control.Event(nil), a.events...)
}

// SocketDir returns a short temporary directory: socket paths are limited
// to 108 bytes, which t.TempDir's long names can exceed.
func SocketDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Serve runs srv on path until the test ends, and waits until it listens.
func Serve(t testing.TB, srv *control.Server, path string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, path) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("socket %s left behind: %v", path, err)
		}
	})
	poll.Until(t, 10*time.Second, "the socket to appear", func() bool {
		select {
		case err := <-done:
			t.Fatalf("Serve: %v", err)
		default:
		}
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}
