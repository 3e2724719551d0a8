package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/gateway/control"
)

var _ control.Agent = (*Agent)(nil)

// watchers fans each poll out to the control socket's watch streams. A slow
// watcher misses polls; it never slows the agent down.
type watchers struct {
	mu   sync.Mutex
	subs map[chan []reading.Reading]string // channel → device filter ("" = all)
}

// publish offers one poll to every watcher interested in its device.
func (w *watchers) publish(rs []reading.Reading) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch, device := range w.subs {
		if device != "" && device != rs[0].Device {
			continue
		}
		select {
		case ch <- rs:
		default: // the watcher is behind: it misses this poll
		}
	}
}

// Watch implements control.Agent.
func (a *Agent) Watch(ctx context.Context, device string) (<-chan []reading.Reading, error) {
	if device != "" {
		if _, err := a.device(device); err != nil {
			return nil, err
		}
	}
	ch := make(chan []reading.Reading, 16)
	a.watch.mu.Lock()
	if a.watch.subs == nil {
		a.watch.subs = map[chan []reading.Reading]string{}
	}
	a.watch.subs[ch] = device
	a.watch.mu.Unlock()
	go func() {
		<-ctx.Done()
		a.watch.mu.Lock()
		delete(a.watch.subs, ch)
		a.watch.mu.Unlock()
		close(ch)
	}()
	return ch, nil
}

// device returns the configured device called name.
func (a *Agent) device(name string) (*device, error) {
	for _, d := range a.devices {
		if d.name == name {
			return d, nil
		}
	}
	return nil, fmt.Errorf("%w %q", control.ErrUnknownDevice, name)
}

// Read implements control.Agent: one poll outside the schedule, shown to the
// technician but neither buffered nor counted in the device's statistics.
func (a *Agent) Read(ctx context.Context, name string) ([]reading.Reading, error) {
	d, err := a.device(name)
	if err != nil {
		return nil, err
	}
	rs, err := d.read(ctx)
	if err != nil {
		return nil, err
	}
	if !a.deps.ClockSynced() {
		for i := range rs {
			rs[i].Flags |= reading.ClockUnsynced
		}
	}
	return rs, nil
}

// SetDeviceEnabled implements control.Agent.
func (a *Agent) SetDeviceEnabled(name string, enabled bool) error {
	d, err := a.device(name)
	if err != nil {
		return err
	}
	if d.disabled.Swap(!enabled) == !enabled {
		return nil
	}
	if enabled {
		a.log.Info("device polling enabled", "device", name)
	} else {
		a.log.Info("device polling disabled", "device", name)
	}
	return nil
}

// SetLogLevel implements control.Agent.
func (a *Agent) SetLogLevel(level string) error {
	if a.deps.LogLevel == nil {
		return errors.New("log level: the agent's logger has no adjustable level")
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	a.deps.LogLevel.Set(l)
	return nil
}

// Flush implements control.Agent: the open batches are closed and committed,
// so the uplink publishes them now.
func (a *Agent) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case a.flush <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status implements control.Agent.
func (a *Agent) Status() control.Status {
	h := a.Health()
	up := a.up.State()
	st := control.Status{
		Gateway: h.Gateway, Version: h.Version, UptimeSeconds: h.UptimeSeconds,
		ConfigVersion: h.ConfigVersion, ClockSynced: h.ClockSynced, BufferRecovered: h.BufferRecovered,
		Uplink: control.UplinkStatus{
			Broker: a.cfg.Uplink.Broker, Connected: up.Connected, Since: up.Since, NextRetry: up.NextRetry, LastError: up.LastError,
			Published: up.Published, Acknowledged: up.Acked, Reconnects: up.Reconnects, Takeover: up.Takeover, Receipts: h.Receipts,
		},
		Buffer: control.BufferStatus{
			Batches: h.BufferBatches, Readings: h.BufferReadings, Bytes: h.BufferBytes,
			OldestUnsentAge: h.OldestUnsentAge, DroppedBatches: h.DroppedBatches, DroppedReadings: h.DroppedReadings,
		},
	}
	if a.fleet != nil {
		src := a.fleet.ConfigSource()
		st.Config = &src
	}
	for i, d := range a.devices {
		ds := d.snapshot()
		d.mu.Lock()
		flags := d.lastFlags
		d.mu.Unlock()
		dev := control.DeviceStatus{
			Name: d.name, Driver: a.cfg.Devices[i].Driver, Enabled: !d.disabled.Load(), Interval: d.interval.String(),
			Polls: ds.Polls, Errors: ds.Errors, LastOK: ds.LastOK, LastError: ds.LastError, Stats: ds.Driver,
		}
		if flags != 0 {
			dev.Flags = flags.Names()
		}
		st.Devices = append(st.Devices, dev)
	}
	return st
}

// Export implements control.Agent: it hands every closed batch in the
// buffer, as the envelope that would be published, to emit, in sequence
// order, and returns the signed manifest of what it handed over. The batches
// stay in the buffer and are still published when the uplink returns; the
// backend deduplicates, so a batch that arrives both ways is counted once.
func (a *Agent) Export(ctx context.Context, emit func(control.ExportedBatch) error) ([]byte, error) {
	m := envelope.Manifest{Gateway: a.cfg.Gateway.ID, Created: a.deps.Now().UTC().Truncate(time.Second)}
	var after uint64
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batches, err := a.store.Next(after, 64)
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		for _, b := range batches {
			wire := envelope.Marshal(b.Header, b.Chunks, b.Trailer)
			if err := emit(control.ExportedBatch{Seq: b.Seq, Class: b.Class, Envelope: wire}); err != nil {
				return nil, fmt.Errorf("export batch %d: %w", b.Seq, err)
			}
			if n := len(m.Ranges); n > 0 && m.Ranges[n-1][1]+1 == b.Seq {
				m.Ranges[n-1][1] = b.Seq
			} else {
				m.Ranges = append(m.Ranges, [2]uint64{b.Seq, b.Seq})
			}
			m.Batches++
			m.Readings += uint64(b.Readings)
			after = b.Seq
		}
		if len(batches) < 64 {
			break
		}
	}
	if m.Batches == 0 {
		return nil, errors.New("export: the buffer holds no closed batch")
	}
	return envelope.SignManifest(a.batcher.identity, m)
}

// ApplyConfig implements control.Agent: the fleet runner checks the file,
// writes it and runs it on probation.
func (a *Agent) ApplyConfig(ctx context.Context, yaml []byte) (uint64, error) {
	if a.fleet == nil {
		return 0, errors.New("config apply: this agent does not run under fleet control (edgegw run does)")
	}
	return a.fleet.ApplyLocal(ctx, yaml)
}
