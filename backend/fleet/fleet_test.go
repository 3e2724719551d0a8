package fleet_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/backend/store/storetest"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/internal/must"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func thresholds() fleet.Thresholds {
	var th fleet.Thresholds
	th.Defaults()
	return th
}

// health returns a health sample at t0+at with the buffer holding batches
// and one device polled every 10 s since t0 whose last good reading is
// lastOK.
func health(at time.Duration, batches int64, lastOK time.Duration) fleet.Sample {
	return fleet.Sample{At: t0.Add(at), Health: fleet.Health{Gateway: "gw-1", Version: "1.2.0", ConfigVersion: 4, BufferBatches: batches,
		Devices: map[string]fleet.HealthDevice{"sps30": {Polls: uint64(at / (10 * time.Second)), LastOK: t0.Add(lastOK), LastError: "i2c: nack"}}}}
}

func active(last time.Duration) *store.Activity {
	return &store.Activity{Gateway: "gw-1", Batches: 10, LastSeq: 10, LastReceived: t0.Add(last), ConfigVersion: 4}
}

func TestEvaluate(t *testing.T) {
	th := thresholds()
	now := t0.Add(5 * time.Minute)
	healthy := []fleet.Sample{health(2*time.Minute, 1, 2*time.Minute), health(3*time.Minute, 1, 3*time.Minute), health(4*time.Minute+50*time.Second, 0, 4*time.Minute+50*time.Second)}
	for _, tc := range []struct {
		name   string
		in     fleet.Input
		want   fleet.State
		reason string
	}{
		{"ok", fleet.Input{Activity: active(5*time.Minute - 4*time.Second), Health: healthy}, fleet.OK, "last batch 4s ago"},
		{"last will", fleet.Input{Activity: active(4 * time.Minute), Health: append(healthy[:2:2], fleet.Sample{At: t0.Add(4 * time.Minute), Health: fleet.Health{State: "offline"}})},
			fleet.Offline, "last will received 1m0s ago"},
		{"nothing for 3 batch delays, no health", fleet.Input{Activity: active(5*time.Minute - 31*time.Second), Health: healthy[:1]},
			fleet.Offline, "nothing committed for 31s, no health for 3m0s"},
		{"2.9 batch delays is not offline", fleet.Input{Activity: active(5*time.Minute - 29*time.Second), Health: healthy[:1]}, fleet.OK, ""},
		{"silent", fleet.Input{Health: healthy}, fleet.Silent, "health arrives (last 10s ago) but nothing committed yet: check the broker ACL"},
		{"silent after data", fleet.Input{Activity: active(time.Minute), Health: healthy}, fleet.Silent, "nothing committed for 4m0s"},
		{"stale device", fleet.Input{Activity: active(5 * time.Minute), Health: []fleet.Sample{health(2*time.Minute, 0, 2*time.Minute), health(4*time.Minute, 0, 4*time.Minute-21*time.Second)}},
			fleet.Degraded, "device sps30 has no good reading for 21s (2 of its 10s intervals): i2c: nack"},
		{"not yet stale", fleet.Input{Activity: active(5 * time.Minute), Health: []fleet.Sample{health(2*time.Minute, 0, 2*time.Minute), health(4*time.Minute, 0, 4*time.Minute-19*time.Second)}},
			fleet.OK, ""},
		{"stuck", fleet.Input{Activity: active(5 * time.Minute), Health: healthy, Latest: []store.LatestReading{{Gateway: "gw-1", Reading: store.Reading{Device: "scd4x", Channel: "co2", Time: t0, Flags: 2}}}},
			fleet.Degraded, "device scd4x channel co2 flagged stuck"},
		{"out of range", fleet.Input{Activity: active(5 * time.Minute), Health: healthy, Latest: []store.LatestReading{{Gateway: "gw-1", Reading: store.Reading{Device: "scd4x", Channel: "co2", Time: t0, Flags: 1}}}},
			fleet.Degraded, "flagged out-of-range"},
		{"backlog", fleet.Input{Activity: active(5 * time.Minute), Health: []fleet.Sample{health(3*time.Minute, 5, 3*time.Minute), health(4*time.Minute, 9, 4*time.Minute), health(5*time.Minute, 20, 5*time.Minute)}},
			fleet.Backlog, "buffer grew from 5 to 20 batches"},
		{"gap without record", fleet.Input{Activity: active(5 * time.Minute), Health: healthy, Missing: []store.MissingRange{{From: 4, To: 6, Cause: store.CauseNotReceived}}},
			fleet.DataGap, "3 sequence numbers missing without a gap record (first 4..6)"},
		{"gap the gateway may still fill", fleet.Input{Activity: active(5 * time.Minute), Missing: []store.MissingRange{{From: 4, To: 6, Cause: store.CauseNotReceived}},
			Health: append(healthy[:2:2], withReceipts(healthy[2], 3, 20))}, fleet.OK, ""},
		{"receipt lag", fleet.Input{Activity: active(5 * time.Minute), Health: append(healthy[:2:2], withReceipts(healthy[2], 3, 301))},
			fleet.DataGap, "oldest batch waits 5m1s for its receipt (bound 5m0s)"},
		{"rolled back", fleet.Input{Activity: active(5 * time.Minute), Health: healthy, ConfigStatus: &fleet.ConfigStatus{Version: 3, State: "rolled-back", Reason: "probation: broker unreachable"}},
			fleet.Config, "configuration rolled-back (running version 3): probation: broker unreachable"},
		{"committed config", fleet.Input{Activity: active(5 * time.Minute), Health: healthy, ConfigStatus: &fleet.ConfigStatus{Version: 4, State: "committed"}}, fleet.OK, ""},
		{"worst wins, all reasons kept", fleet.Input{Health: healthy, ConfigStatus: &fleet.ConfigStatus{Version: 5, State: "probation", Time: t0}},
			fleet.Silent, "; configuration version 5 on probation since 2026-12-01T12:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Gateway = "gw-1"
			v := th.Evaluate(tc.in, now)
			if v.State != tc.want || !strings.Contains(v.Reason(), tc.reason) {
				t.Errorf("Evaluate = %s %q, want %s containing %q", v.State, v.Reason(), tc.want, tc.reason)
			}
		})
	}
}

func withReceipts(s fleet.Sample, batches, oldest int64) fleet.Sample {
	s.Health.Receipts = &fleet.HealthReceipts{UnreceiptedBatches: batches, OldestUnreceiptedAge: oldest}
	return s
}

func TestThresholdsCheck(t *testing.T) {
	th := thresholds()
	if err := th.Check(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	th.BatchDelay, th.FlapChanges = time.Millisecond, 1
	err := th.Check()
	if err == nil || !strings.Contains(err.Error(), "fleet.batch_delay: 1ms outside") || !strings.Contains(err.Error(), "fleet.flap_changes") {
		t.Errorf("Check = %v, want fleet.batch_delay and fleet.flap_changes named", err)
	}
	th = thresholds()
	th.Groups = map[string][]string{"north": {"gw-n-"}}
	for id, want := range map[string]string{"gw-n-7": "north", "south-17": "south", "solo": "other"} {
		if g := th.Group(id); g != want {
			t.Errorf("Group(%q) = %q, want %q", id, g, want)
		}
	}
}

// testFleet is a Fleet on a migrated SQLite database with a clock the test
// moves.
type testFleet struct {
	*fleet.Fleet
	now time.Time
}

func newTestFleet(t *testing.T) *testFleet {
	t.Helper()
	st := storetest.Open(t, "sqlite:"+filepath.Join(t.TempDir(), "ingest.db"))
	tf := &testFleet{now: t0}
	tf.Fleet = &fleet.Fleet{Store: st, Thresholds: thresholds(), Now: func() time.Time { return tf.now }}
	return tf
}

// tick moves the clock by d, has gw commit a batch (when data) and publish
// health (when alive, else its last will), and records the states.
func (tf *testFleet) tick(t *testing.T, d time.Duration, gw string, seq uint64, data, alive bool) []store.Transition {
	t.Helper()
	tf.now = tf.now.Add(d)
	ctx := context.Background()
	if data {
		b := storetest.DataBatch(gw, seq, 4, "a")
		b.Received = tf.now
		if _, err := tf.Store.Commit(ctx, []store.Batch{b}); err != nil {
			t.Fatal(err)
		}
	}
	body := fmt.Appendf(nil, `{"gateway":%q,"version":"1.2.0","config_version":3,"buffer_batches":0,"devices":{}}`, gw)
	if !alive {
		body = []byte(`{"state":"offline"}`)
	}
	must.NoError(t, tf.Store.RecordDocs(ctx, []store.Doc{{Gateway: gw, Kind: store.DocHealth, Received: tf.now, Body: body}}, 10))
	_, ts, err := tf.Record(ctx)
	must.NoError(t, err)
	return ts
}

func TestRecordFlappingAlertsOnce(t *testing.T) {
	tf := newTestFleet(t)
	ts := tf.tick(t, 0, "gw-1", 1, true, true)
	if len(ts) != 1 || ts[0].To != "OK" || ts[0].From != "" || ts[0].Alert {
		t.Fatalf("first record = %+v, want one change to OK without alert", ts)
	}
	if ts := tf.tick(t, 10*time.Second, "gw-1", 2, true, true); len(ts) != 0 {
		t.Fatalf("steady record = %+v, want no change", ts)
	}
	var alerts, changes int
	seq := uint64(3)
	for i := range 4 { // offline, back, offline, back: one alert
		ts := tf.tick(t, time.Minute, "gw-1", seq, i%2 == 1, i%2 == 1)
		if i%2 == 1 {
			seq++
		}
		if len(ts) != 1 {
			t.Fatalf("flap %d: recorded %+v, want one change", i, ts)
		}
		changes++
		if ts[0].Alert {
			alerts++
		}
	}
	if alerts != 1 || changes != 4 {
		t.Errorf("flapping gateway: %d alerts over %d changes, want 1 over 4", alerts, changes)
	}
	sum, err := tf.Status(context.Background())
	must.NoError(t, err)
	b := sum.Boxes[0]
	if b.State != fleet.OK || !b.Flapping || b.Changes != 4 || !b.Since.Equal(tf.now) || b.Version != "1.2.0" {
		t.Errorf("box = %+v, want OK, flapping with 4 changes, since now, version 1.2.0", b)
	}
	// After the flap window a new problem alerts again.
	ts = tf.tick(t, 31*time.Minute, "gw-1", seq, false, false)
	if len(ts) != 1 || !ts[0].Alert || ts[0].To != "OFFLINE" {
		t.Errorf("after the flap window = %+v, want an alerted change to OFFLINE", ts)
	}
}

func TestStatusCountsAndOrder(t *testing.T) {
	tf := newTestFleet(t)
	ctx := context.Background()
	tf.tick(t, 0, "north-1", 1, true, true)
	tf.tick(t, 0, "north-2", 1, false, true) // health, never data: SILENT
	tf.tick(t, 0, "south-1", 1, true, false) // last will: OFFLINE
	tf.tick(t, 0, "south-2", 1, true, true)
	sum, err := tf.Status(ctx)
	must.NoError(t, err)
	if sum.Counts[fleet.OK] != 2 || sum.Counts[fleet.Silent] != 1 || sum.Counts[fleet.Offline] != 1 || len(sum.Boxes) != 4 {
		t.Errorf("counts = %v over %d boxes, want 2 OK, 1 SILENT, 1 OFFLINE", sum.Counts, len(sum.Boxes))
	}
	if sum.Boxes[0].Gateway != "south-1" || sum.Boxes[1].Gateway != "north-2" || sum.Boxes[0].Group != "south" {
		t.Errorf("order = %s, %s; want south-1 (OFFLINE, group south) then north-2 (SILENT)", sum.Boxes[0].Gateway, sum.Boxes[1].Gateway)
	}
	if sum.Versions["1.2.0"] != 3 || sum.Versions["unknown"] != 1 {
		t.Errorf("versions = %v, want 3 at 1.2.0 and the offline one unknown", sum.Versions)
	}
}

// latest returns the newest committed readings of sps30's two channels: at
// t0+at, a read error when bad, the newest good one at t0+good.
func latest(at, good time.Duration, bad bool) []store.LatestReading {
	var out []store.LatestReading
	for _, ch := range []string{"pm10", "pm25"} {
		r := store.Reading{Device: "sps30", Channel: ch, Unit: "ug/m3", Time: t0.Add(at)}
		if bad {
			r.Flags = uint16(reading.ReadError)
		} else {
			v := 7.0
			r.Value = &v
		}
		out = append(out, store.LatestReading{Gateway: "gw-1", Reading: r, LastGood: t0.Add(good)})
	}
	return out
}

// TestEvaluateStaleReadings checks staleness from the committed readings
// between health documents (every minute; the device polls every 10 s, the
// gateway sends a batch every 10 s, 5 s after its polls).
func TestEvaluateStaleReadings(t *testing.T) {
	th := thresholds()
	at := func(m, s int) time.Duration { return time.Duration(m)*time.Minute + time.Duration(s)*time.Second }
	hs := []fleet.Sample{health(at(2, 0), 0, at(2, 0)), health(at(3, 0), 0, at(3, 0))}
	for _, tc := range []struct {
		name   string
		latest []store.LatestReading
		commit time.Duration // when its newest batch was received
		now    time.Duration
		want   fleet.State
		reason string
	}{
		// Good until 3m10, a read error at 3m20: at 3m30 the poll due then
		// counts as failed too, two intervals after the last good one.
		{"stale between health documents", latest(at(3, 20), at(3, 10), true), at(3, 25), at(3, 30), fleet.Degraded,
			"device sps30 has no good reading for 20s (2 of its 10s intervals): read errors committed since, the newest at 2026-12-01T12:03:20Z"},
		{"one interval after the read error", latest(at(3, 20), at(3, 10), true), at(3, 25), at(3, 29), fleet.OK, ""},
		{"read errors committed for 2 intervals", latest(at(3, 30), at(3, 10), true), at(3, 35), at(3, 35), fleet.Degraded,
			"device sps30 has no good reading for 25s (2 of its 10s intervals)"},
		// The health document's last_ok is 50 s old; the readings show the
		// device good 10 s before its one read error.
		{"a single read error after good readings", latest(at(3, 50), at(3, 40), true), at(3, 55), at(3, 55), fleet.OK, ""},
		{"a good reading after a read error", latest(at(4, 0), at(4, 0), false), at(4, 5), at(4, 9), fleet.OK, ""},
		// The poll due after a read error counts as failed until its batch
		// arrives: a single read error shows for the part of a batch delay
		// its batch lags the poll.
		{"the poll due after a read error", latest(at(3, 50), at(3, 40), true), at(3, 55), at(4, 0), fleet.Degraded,
			"device sps30 has no good reading for 20s (2 of its 10s intervals)"},
		// Batches stop with the device good: the box goes OFFLINE, its
		// device is not stale by the passing of time.
		{"batches stop, device good", latest(at(3, 50), at(3, 50), false), at(3, 55), at(4, 24), fleet.OK, ""},
		{"batches stop, then offline", latest(at(3, 50), at(3, 50), false), at(3, 55), at(9, 0), fleet.Offline, ""},
		// Batches stop after read errors: the age stops an interval after
		// the newest of them.
		{"batches stop after read errors", latest(at(3, 50), at(3, 30), true), at(3, 55), at(9, 0), fleet.Offline,
			"device sps30 has no good reading for 30s (3 of its 10s intervals)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := th.Evaluate(fleet.Input{Gateway: "gw-1", Activity: active(tc.commit), Health: hs, Latest: tc.latest}, t0.Add(tc.now))
			if v.State != tc.want || !strings.Contains(v.Reason(), tc.reason) {
				t.Errorf("Evaluate = %s %q, want %s containing %q", v.State, v.Reason(), tc.want, tc.reason)
			}
			if tc.want != fleet.Degraded && tc.reason == "" && strings.Contains(v.Reason(), "no good reading") {
				t.Errorf("Evaluate = %s %q: device stale", v.State, v.Reason())
			}
		})
	}
}

// TestRecent: the summary Record computed is served while it is younger
// than the age asked for; after that a summary is computed anew.
func TestRecent(t *testing.T) {
	tf := newTestFleet(t)
	ctx := context.Background()
	tf.tick(t, 0, "gw-1", 1, true, true) // records
	rec := tf.now
	tf.now = tf.now.Add(5 * time.Second)
	b := storetest.DataBatch("gw-2", 1, 4, "a") // a gateway the recorded summary does not know
	b.Received = tf.now
	if _, err := tf.Store.Commit(ctx, []store.Batch{b}); err != nil {
		t.Fatal(err)
	}
	got, err := tf.Recent(ctx, 10*time.Second)
	must.NoError(t, err)
	if !got.Time.Equal(rec) || len(got.Boxes) != 1 {
		t.Errorf("Recent within the age: %v with %d boxes, want the recorded %v with 1", got.Time, len(got.Boxes), rec)
	}
	tf.now = tf.now.Add(10 * time.Second)
	if got, err = tf.Recent(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if !got.Time.Equal(tf.now) || len(got.Boxes) != 2 {
		t.Errorf("Recent past the age: %v with %d boxes, want a summary of now %v with 2", got.Time, len(got.Boxes), tf.now)
	}
}
