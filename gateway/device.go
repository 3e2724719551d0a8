package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/reading"
)

// device is one configured sensor with its schedule, validation state and
// counters.
type device struct {
	name     string
	class    string
	interval time.Duration
	sensor   drivers.Sensor
	channels []reading.Channel
	valid    *validator
	humidity *humidity // shared by the gateway's devices
	log      *slog.Logger

	disabled atomic.Bool // set by a technician: ticks pass without polling
	readMu   sync.Mutex  // one Read at a time: scheduled or one-off

	mu        sync.Mutex
	stats     DeviceStats
	lastFlags reading.Flags // union of the flags of the last poll's readings
}

// DeviceStats counts what happened to one device's polls.
type DeviceStats struct {
	Polls     uint64    `json:"polls"`
	Readings  uint64    `json:"readings"` // readings handed to the batcher, read errors included
	Errors    uint64    `json:"errors"`
	Overruns  uint64    `json:"overruns"` // ticks skipped because a poll took longer than the interval
	LastOK    time.Time `json:"last_ok,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Driver    any       `json:"driver,omitempty"` // the driver's own statistics, if it keeps any
}

// poll is what a device hands the batcher: one poll's readings.
type poll struct {
	class    string
	readings []reading.Reading
}

// run polls the device once at start, so that the first readings do not
// wait up to an interval, then on ticks at origin + k×interval, where origin
// is the wall-clock multiple of the interval, so ticks never drift and
// devices with the same interval poll together. A poll that overruns skips
// the ticks it missed. run returns when ctx is done.
func (d *device) run(ctx context.Context, now func() time.Time, synced func() bool, out chan<- poll) {
	origin := now().Truncate(d.interval)
	if !d.disabled.Load() {
		if p, ok := d.poll(ctx, now, synced); ok {
			out <- p
		}
	}
	k := max(int64(now().Sub(origin)/d.interval)+1, 1) // the first tick after the start poll
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		next := origin.Add(time.Duration(k) * d.interval)
		wait := next.Sub(now())
		if wait > d.interval { // the wall clock went back: anchor the grid on the present
			origin, k = now().Truncate(d.interval), 1
			next = origin.Add(d.interval)
			wait = next.Sub(now())
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if d.disabled.Load() {
			k = int64(now().Sub(origin)/d.interval) + 1
			continue
		}
		if p, ok := d.poll(ctx, now, synced); ok {
			// Delivered even when stopping: the sink reads until every
			// device has returned, so a poll read is never lost.
			out <- p
		}
		due := int64(now().Sub(origin)/d.interval) + 1
		if due > k+1 {
			d.mu.Lock()
			d.stats.Overruns += uint64(due - k - 1)
			d.mu.Unlock()
			k = due
		} else {
			k++
		}
	}
}

// poll reads the device once, bounded by its interval, and validates the
// readings. It reports false when there is nothing to record.
func (d *device) poll(ctx context.Context, now func() time.Time, synced func() bool) (poll, bool) {
	rs, err := d.read(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stats.Polls++
	switch {
	case errors.Is(err, drivers.ErrNoData):
		return poll{}, false
	case err != nil:
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return poll{}, false // stopping
		}
		d.stats.Errors++
		if d.stats.LastError == "" {
			d.log.Warn("device read failed", "err", err)
		}
		d.stats.LastError = err.Error()
		if len(d.channels) == 0 {
			return poll{}, false
		}
		rs = failedReadings(d.name, d.channels, now().Truncate(time.Millisecond))
	default:
		if d.stats.LastError != "" {
			d.log.Info("device read recovered")
			d.stats.LastError = ""
		}
		d.stats.LastOK = now()
	}
	d.valid.check(rs, !synced())
	d.humidity.apply(rs, now(), d.interval)
	d.stats.Readings += uint64(len(rs))
	d.lastFlags = 0
	for _, r := range rs {
		d.lastFlags |= r.Flags
	}
	return poll{class: d.class, readings: rs}, true
}

// read reads the sensor once, bounded by the device's interval, never
// concurrently with another read of it.
func (d *device) read(ctx context.Context) ([]reading.Reading, error) {
	ctx, cancel := context.WithTimeout(ctx, d.interval)
	defer cancel()
	d.readMu.Lock()
	defer d.readMu.Unlock()
	return d.sensor.Read(ctx)
}

// snapshot returns a copy of the device's counters, with the driver's own.
func (d *device) snapshot() DeviceStats {
	d.mu.Lock()
	st := d.stats
	d.mu.Unlock()
	if r, ok := d.sensor.(drivers.StatsReporter); ok {
		st.Driver = r.DriverStats()
	}
	return st
}
