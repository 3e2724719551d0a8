package gateway

import (
	"sync"
	"time"

	"github.com/edgegw/edgegw/drivers/reading"
)

// validator flags the readings of one device: values outside the channel's
// physical range, values frozen for too many polls, counters going back.
type validator struct {
	channels map[string]reading.Channel
	last     map[string]float64
	repeats  map[string]int
}

func newValidator(chs []reading.Channel) *validator {
	v := &validator{channels: map[string]reading.Channel{}, last: map[string]float64{}, repeats: map[string]int{}}
	for _, c := range chs {
		v.channels[c.Name] = c
	}
	return v
}

// check sets the quality flags of rs in place. unsynced adds ClockUnsynced.
func (v *validator) check(rs []reading.Reading, unsynced bool) {
	for i := range rs {
		r := &rs[i]
		if unsynced {
			r.Flags |= reading.ClockUnsynced
		}
		if r.Flags&reading.ReadError != 0 {
			continue
		}
		c, known := v.channels[r.Channel]
		if !known {
			continue
		}
		if c.Max > c.Min && (r.Value < c.Min || r.Value > c.Max) {
			r.Flags |= reading.OutOfRange
		}
		prev, seen := v.last[r.Channel]
		switch {
		case c.Counter:
			if seen && r.Value < prev {
				r.Flags |= reading.CounterWentBack
			}
		case seen && r.Value == prev:
			v.repeats[r.Channel]++
		default:
			v.repeats[r.Channel] = 0
		}
		if c.StuckAfter > 0 && v.repeats[r.Channel] >= c.StuckAfter {
			r.Flags |= reading.Stuck
		}
		v.last[r.Channel] = r.Value
	}
}

// failedReadings returns one ReadError reading per declared channel at time
// t, so that the backend sees when a device could not be read.
func failedReadings(device string, chs []reading.Channel, t time.Time) []reading.Reading {
	out := make([]reading.Reading, len(chs))
	for i, c := range chs {
		out[i] = reading.Reading{Device: device, Channel: c.Name, Unit: c.Unit, Time: t, Flags: reading.ReadError}
	}
	return out
}

// humidity shares the latest relative humidity measured on the gateway
// between devices, so that particulate readings taken in humid air, where
// optical sensors over-read, are flagged Humid.
type humidity struct {
	threshold float64 // percent RH; above it PM readings are flagged

	mu      sync.Mutex
	rh      float64
	expires time.Time // the RH value is stale after this
}

// apply records the RH readings of a poll and flags its PM readings when
// the latest RH, not older than three of its device's intervals, is above
// the threshold.
func (h *humidity) apply(rs []reading.Reading, now time.Time, interval time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range rs {
		if r.Unit == reading.RelHumid && r.Flags&reading.ReadError == 0 {
			h.rh, h.expires = r.Value, now.Add(3*interval)
		}
	}
	if !now.Before(h.expires) || h.rh <= h.threshold {
		return
	}
	for i := range rs {
		if rs[i].Unit == reading.MicrogramM && rs[i].Flags&reading.ReadError == 0 {
			rs[i].Flags |= reading.Humid
		}
	}
}
