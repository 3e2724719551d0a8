// Package fleet computes the state of every gateway from what the ingest
// stored: committed batches, sequence gaps, the newest readings, and the
// retained health and configuration status documents the gateways publish
// (docs/health.md). It records state changes with their time, suppressing
// the alerts of a flapping gateway, and builds the fleet summary the CLI and
// the web page show.
package fleet

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/drivers/reading"
)

// State is a gateway's fleet state.
type State string

// The states, from best to worst.
const (
	OK       State = "OK"
	Degraded State = "DEGRADED" // a device stale for StaleIntervals of its intervals, or flagged stuck or out of range
	Config   State = "CONFIG"   // a configuration on probation, rolled back or rejected
	Backlog  State = "BACKLOG"  // the buffer grows
	DataGap  State = "DATA-GAP" // sequence numbers missing without a gap record, or a receipt lagging
	Silent   State = "SILENT"   // health arrives, data is not committed: the broker ACL or certificate CN
	Offline  State = "OFFLINE"  // last will, or nothing committed and no health for OfflineDelays batch delays
)

// States lists the states from best to worst.
var States = []State{OK, Degraded, Config, Backlog, DataGap, Silent, Offline}

// Severity returns the rank of s in States: 0 for OK, higher is worse; -1
// for an unknown state.
func (s State) Severity() int { return slices.Index(States, s) }

// ParseState returns the state named s (case-insensitive).
func ParseState(s string) (State, error) {
	for _, st := range States {
		if strings.EqualFold(string(st), s) {
			return st, nil
		}
	}
	names := make([]string, len(States))
	for i, st := range States {
		names[i] = string(st)
	}
	return "", fmt.Errorf("state %q is not one of %s", s, strings.Join(names, ", "))
}

// Health is the part of a gateway's health document (docs/health.md,
// version 1) the states read. Unknown members are ignored.
type Health struct {
	State           string                  `json:"state,omitempty"` // "offline" in the last will; absent otherwise
	Gateway         string                  `json:"gateway"`
	Version         string                  `json:"version,omitempty"`
	ConfigVersion   uint64                  `json:"config_version"`
	UptimeSeconds   int64                   `json:"uptime_s"`
	ClockSynced     bool                    `json:"clock_synced"`
	BufferBatches   int64                   `json:"buffer_batches"`
	BufferReadings  int64                   `json:"buffer_readings"`
	OldestUnsentAge int64                   `json:"oldest_unsent_s"`
	DroppedBatches  uint64                  `json:"dropped_batches"`
	DroppedReadings uint64                  `json:"dropped_readings"`
	Receipts        *HealthReceipts         `json:"receipts,omitempty"`
	Devices         map[string]HealthDevice `json:"devices,omitempty"`
}

// HealthReceipts is the receipts member of a health document.
type HealthReceipts struct {
	UnreceiptedBatches   int64 `json:"unreceipted_batches"`
	OldestUnreceiptedAge int64 `json:"oldest_unreceipted_s"`
}

// HealthDevice is one device of a health document.
type HealthDevice struct {
	Polls     uint64    `json:"polls"`
	Errors    uint64    `json:"errors"`
	LastOK    time.Time `json:"last_ok,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// ConfigStatus is the part of a gateway's config/status document the states
// read.
type ConfigStatus struct {
	Version uint64    `json:"version"`
	State   string    `json:"state"`
	Reason  string    `json:"reason,omitempty"`
	Time    time.Time `json:"time"`
}

// Configuration states that make a gateway CONFIG.
const (
	configProbation  = "probation"
	configRolledBack = "rolled-back"
	configRejected   = "rejected"
)

// Sample is one health document as received.
type Sample struct {
	At     time.Time
	Health Health
}

// Input is what the database holds of one gateway.
type Input struct {
	Gateway      string
	Activity     *store.Activity       // nil before its first committed batch
	Health       []Sample              // its recent health documents, oldest first; the last is the newest
	ConfigStatus *ConfigStatus         // nil when none was received
	Missing      []store.MissingRange  // its sequence numbers missing without a gap record
	Latest       []store.LatestReading // the newest reading of each device channel, with its newest good one
}

// Verdict is a gateway's state with the reasons for it, worst first.
type Verdict struct {
	State   State
	Reasons []string
}

// Reason returns the reasons as one line.
func (v Verdict) Reason() string { return strings.Join(v.Reasons, "; ") }

// problem is one finding; the verdict is the worst of them.
type problem struct {
	state  State
	reason string
}

// Evaluate computes a gateway's state at now.
func (c Thresholds) Evaluate(in Input, now time.Time) Verdict {
	var ps []problem
	add := func(s State, format string, args ...any) { ps = append(ps, problem{s, fmt.Sprintf(format, args...)}) }

	quiet := time.Duration(c.OfflineDelays) * c.BatchDelay
	var last *Sample
	if n := len(in.Health); n > 0 {
		last = &in.Health[n-1]
	}
	var lastCommit time.Time
	if in.Activity != nil {
		lastCommit = in.Activity.LastReceived
	}
	noData := lastCommit.IsZero() || now.Sub(lastCommit) >= quiet
	healthFresh := last != nil && last.Health.State != "offline" && now.Sub(last.At) < 2*c.HealthInterval
	switch {
	case last != nil && last.Health.State == "offline":
		add(Offline, "last will received %s ago", ago(now, last.At))
	case noData && healthFresh:
		add(Silent, "health arrives (last %s ago) but %s: check the broker ACL and the certificate CN", ago(now, last.At), nothingCommitted(now, lastCommit))
	case noData:
		h := "no health received"
		if last != nil {
			h = "no health for " + ago(now, last.At)
		}
		add(Offline, "%s, %s", nothingCommitted(now, lastCommit), h)
	}

	if cs := in.ConfigStatus; cs != nil {
		switch cs.State {
		case configProbation:
			add(Config, "configuration version %d on probation since %s", cs.Version, cs.Time.UTC().Format(time.RFC3339))
		case configRolledBack, configRejected:
			add(Config, "configuration %s (running version %d): %s", cs.State, cs.Version, cs.Reason)
		}
	}

	if last != nil && last.Health.State != "offline" {
		h := last.Health
		holds := h.Receipts != nil && h.Receipts.UnreceiptedBatches > 0
		if len(in.Missing) > 0 && !holds {
			var n uint64
			for _, m := range in.Missing {
				n += m.To - m.From + 1
			}
			add(DataGap, "%d sequence numbers missing without a gap record (first %s), none waiting on the gateway", n, seqRange(in.Missing[0]))
		}
		if r := h.Receipts; r != nil && time.Duration(r.OldestUnreceiptedAge)*time.Second > c.ReceiptLag {
			add(DataGap, "oldest batch waits %s for its receipt (bound %s)", time.Duration(r.OldestUnreceiptedAge)*time.Second, c.ReceiptLag)
		}
		if grew, from, to := c.growing(in.Health); grew {
			add(Backlog, "buffer grew from %d to %d batches over the last %d health documents (oldest unsent %s)",
				from, to, c.BacklogSamples, time.Duration(h.OldestUnsentAge)*time.Second)
		}
		for _, name := range sortedKeys(h.Devices) {
			iv := interval(in.Health, name)
			if iv <= 0 {
				continue
			}
			if age, why := noGoodFor(in, *last, name, iv, now); age >= time.Duration(c.StaleIntervals)*iv {
				add(Degraded, "device %s has no good reading for %s (%d of its %s intervals)%s", name, age.Round(time.Second), int(age/iv), iv, why)
			}
		}
	}
	for _, l := range in.Latest {
		for _, f := range []reading.Flags{reading.Stuck, reading.OutOfRange} {
			if reading.Flags(l.Flags)&f != 0 {
				add(Degraded, "device %s channel %s flagged %s (%s)", l.Device, l.Channel, f, l.Time.UTC().Format(time.RFC3339))
			}
		}
	}

	if len(ps) == 0 {
		return Verdict{State: OK, Reasons: []string{fmt.Sprintf("committing: last batch %s ago", ago(now, lastCommit))}}
	}
	slices.SortStableFunc(ps, func(a, b problem) int { return b.state.Severity() - a.state.Severity() })
	v := Verdict{State: ps[0].state}
	for _, p := range ps {
		v.Reasons = append(v.Reasons, p.reason)
	}
	return v
}

// noGoodFor returns how long a device has had no good reading as the
// evidence shows at now, and why in words (": ..."). The newest good reading
// is the newer of the health document's last_ok and the device's newest
// committed reading without the read-error flag; the age runs from it to the
// newest evidence of the device failing since: the health document, when it
// came later, or the device's newest committed reading, when it is a read
// error. After a read error the poll that follows counts as failed until a
// batch brings it: the age runs on with the clock, up to one interval after
// that reading. So a device stops being good within StaleIntervals of its
// intervals of its last good reading, whatever the batch delay, while a
// gateway whose batches stop does not make its devices stale by the passing
// of time (it is OFFLINE or SILENT). Never good, or nothing newer than the
// good reading: 0.
func noGoodFor(in Input, last Sample, device string, iv time.Duration, now time.Time) (time.Duration, string) {
	d := last.Health.Devices[device]
	good := d.LastOK
	var newest time.Time
	for _, l := range in.Latest {
		if l.Device == device {
			good = later(good, l.LastGood)
			newest = later(newest, l.Time)
		}
	}
	if good.IsZero() {
		return 0, "" // never good: its errors say why; staleness needs a first good reading
	}
	var at time.Time
	why := ""
	if last.At.After(good) {
		at = last.At
		if d.LastError != "" {
			why = ": " + d.LastError
		}
	}
	if newest.After(good) {
		until := newest.Add(iv)
		if now.Before(until) {
			until = now
		}
		if until = later(newest, until); until.After(at) {
			at = until
			if why == "" {
				why = fmt.Sprintf(": read errors committed since, the newest at %s", newest.UTC().Format(time.RFC3339))
			}
		}
	}
	if at.IsZero() {
		return 0, ""
	}
	return at.Sub(good), why
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// growing reports whether the buffer grew at every one of the last
// BacklogSamples health documents.
func (c Thresholds) growing(hs []Sample) (bool, int64, int64) {
	if len(hs) < c.BacklogSamples {
		return false, 0, 0
	}
	win := hs[len(hs)-c.BacklogSamples:]
	for i := 1; i < len(win); i++ {
		if win[i].Health.State == "offline" || win[i].Health.BufferBatches <= win[i-1].Health.BufferBatches {
			return false, 0, 0
		}
	}
	return true, win[0].Health.BufferBatches, win[len(win)-1].Health.BufferBatches
}

// interval estimates a device's polling interval from its poll counter in
// the oldest and newest health documents that have it; 0 when they do not
// tell.
func interval(hs []Sample, device string) time.Duration {
	first, last := -1, -1
	for i, s := range hs {
		if _, ok := s.Health.Devices[device]; ok {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 || first == last {
		return 0
	}
	a, b := hs[first], hs[last]
	polls := b.Health.Devices[device].Polls - a.Health.Devices[device].Polls
	if b.Health.Devices[device].Polls <= a.Health.Devices[device].Polls {
		return 0
	}
	return (b.At.Sub(a.At) / time.Duration(polls)).Round(time.Second)
}

func nothingCommitted(now, last time.Time) string {
	if last.IsZero() {
		return "nothing committed yet"
	}
	return "nothing committed for " + ago(now, last)
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return now.Sub(t).Round(time.Second).String()
}

func seqRange(m store.MissingRange) string {
	if m.From == m.To {
		return fmt.Sprint(m.From)
	}
	return fmt.Sprintf("%d..%d", m.From, m.To)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// parseHealth decodes a health document; a document that does not decode is
// reported as the reason it cannot be read.
func parseHealth(d store.Doc) (Sample, error) {
	var h Health
	if err := json.Unmarshal(d.Body, &h); err != nil {
		return Sample{}, fmt.Errorf("health of gateway %q received %s: %w", d.Gateway, d.Received.Format(time.RFC3339), err)
	}
	return Sample{At: d.Received, Health: h}, nil
}

// flagNames names a reading's quality flags, "|"-separated.
func flagNames(f uint16) string { return reading.Flags(f).String() }
