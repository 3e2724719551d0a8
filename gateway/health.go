package gateway

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/gateway/uplink"
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
	UplinkTakeover  string                 `json:"uplink_takeover,omitempty"` // see uplink.State.Takeover
	Receipts        *control.ReceiptStatus `json:"receipts,omitempty"`        // nil without receipt keys
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
		UplinkTakeover:  a.up.State().Takeover,
		Receipts:        a.receiptStatus(a.up.State().Receipts, now),
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

// receiptStatus describes delivery by receipts; nil without receipt keys.
func (a *Agent) receiptStatus(r uplink.ReceiptState, now time.Time) *control.ReceiptStatus {
	if !r.Enabled {
		return nil
	}
	st := &control.ReceiptStatus{
		TimeoutSeconds:      int64(a.cfg.Uplink.ReceiptTimeout / time.Second),
		Accepted:            r.Accepted,
		Rejected:            r.Rejected,
		ReceiptedBatches:    r.Receipted,
		Republished:         r.Republished,
		UnreceiptedBatches:  r.Unreceipted,
		UnreceiptedReadings: r.UnreceiptedReadings,
	}
	if !r.OldestUnreceipted.IsZero() {
		st.OldestUnreceiptedAge = int64(now.Sub(r.OldestUnreceipted) / time.Second)
	}
	if !r.LastAt.IsZero() {
		st.Last = &control.LastReceipt{Time: r.Last.Time, Received: r.LastAt, Through: r.Last.Through, Highest: r.Last.Highest(), Signer: r.Last.Signer}
	}
	return st
}

// ClockSynced reports whether the kernel considers the system clock
// synchronised (by NTP, chrony or systemd-timesyncd), from adjtimex(2).
func ClockSynced() bool {
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	return err == nil && state != unix.TIME_ERROR && tx.Status&unix.STA_UNSYNC == 0
}
