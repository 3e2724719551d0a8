package gateway

import (
	"time"

	"golang.org/x/sys/unix"
)

// Health is the agent's periodic health document, published retained on
// <prefix>/<id>/health.
type Health struct {
	Gateway         string                 `json:"gateway"`
	Version         string                 `json:"version,omitempty"`
	ConfigVersion   uint64                 `json:"config_version"`
	UptimeSeconds   int64                  `json:"uptime_s"`
	ClockSynced     bool                   `json:"clock_synced"`
	BufferBatches   int                    `json:"buffer_batches"`
	BufferReadings  int64                  `json:"buffer_readings"`
	BufferBytes     int64                  `json:"buffer_bytes"`
	OldestUnsentAge int64                  `json:"oldest_unsent_s"`
	DroppedBatches  uint64                 `json:"dropped_batches"`
	DroppedReadings uint64                 `json:"dropped_readings"`
	BufferRecovered string                 `json:"buffer_recovered,omitempty"`
	Devices         map[string]DeviceStats `json:"devices"`
}

// Health describes the agent now.
func (a *Agent) Health() Health {
	now := a.deps.Now()
	st := a.store.Stats()
	h := Health{
		Gateway:         a.cfg.Gateway.ID,
		Version:         a.deps.Version,
		ConfigVersion:   a.cfg.Version,
		UptimeSeconds:   int64(now.Sub(a.started) / time.Second),
		ClockSynced:     a.deps.ClockSynced(),
		BufferBatches:   st.Batches,
		BufferReadings:  st.Readings,
		BufferBytes:     st.Bytes,
		DroppedBatches:  st.DroppedBatches,
		DroppedReadings: st.DroppedReadings,
		BufferRecovered: a.store.Recovered(),
		Devices:         map[string]DeviceStats{},
	}
	if !st.Oldest.IsZero() {
		h.OldestUnsentAge = int64(now.Sub(st.Oldest) / time.Second)
	}
	for _, d := range a.devices {
		h.Devices[d.name] = d.snapshot()
	}
	return h
}

// ClockSynced reports whether the kernel considers the system clock
// synchronised (by NTP, chrony or systemd-timesyncd), from adjtimex(2).
func ClockSynced() bool {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	return err == nil && state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
}
