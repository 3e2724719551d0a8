package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend/store"
)

// healthDoc returns a health document of gateway gw received at Base plus
// min minutes.
func healthDoc(gw string, min int) store.Doc {
	return store.Doc{Gateway: gw, Kind: store.DocHealth, Received: Base.Add(time.Duration(min) * time.Minute),
		Body: fmt.Appendf(nil, `{"gateway":%q,"uptime_s":%d}`, gw, min*60)}
}

func (s suite) docs(t *testing.T) {
	dsn, st := s.migrated(t)
	ctx := context.Background()
	if err := st.RecordDocs(ctx, []store.Doc{healthDoc("gw-1", 1), healthDoc("gw-1", 2), healthDoc("gw-2", 1)}, 2); err != nil {
		t.Fatalf("RecordDocs: %v", err)
	}
	// Out of order: the newer one stays the newest; the history keeps 2.
	if err := st.RecordDocs(ctx, []store.Doc{healthDoc("gw-1", 4), healthDoc("gw-1", 3)}, 2); err != nil {
		t.Fatalf("RecordDocs: %v", err)
	}
	cs := store.Doc{Gateway: "gw-1", Kind: store.DocConfigStatus, Received: Base, Body: []byte(`{"state":"probation"}`)}
	if err := st.RecordDocs(ctx, []store.Doc{cs}, 2); err != nil {
		t.Fatalf("RecordDocs config status: %v", err)
	}
	got, err := st.Docs(ctx, store.DocHealth, "")
	if err != nil {
		t.Fatalf("Docs: %v", err)
	}
	want := []store.Doc{healthDoc("gw-1", 4), healthDoc("gw-2", 1)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Docs(health) =\n%s\nwant\n%s", got, want)
	}
	one, err := st.Docs(ctx, store.DocConfigStatus, "gw-1")
	if err != nil || len(one) != 1 || string(one[0].Body) != string(cs.Body) || !one[0].Received.Equal(Base) {
		t.Errorf("Docs(config-status, gw-1) = %s, %v; want %s", one, err, cs.Body)
	}
	hist, err := st.DocHistory(ctx, "gw-1", store.DocHealth, time.Time{})
	if err != nil {
		t.Fatalf("DocHistory: %v", err)
	}
	if want := []store.Doc{healthDoc("gw-1", 3), healthDoc("gw-1", 4)}; fmt.Sprint(hist) != fmt.Sprint(want) {
		t.Errorf("DocHistory = %s, want %s (the newest 2, oldest first)", hist, want)
	}
	wantCount(t, dsn, "SELECT count(*) FROM gateway_doc_history", 4) // gw-1: 2 health + 1 config status; gw-2: 1
	since, err := st.DocHistory(ctx, "gw-1", store.DocHealth, Base.Add(4*time.Minute))
	if err != nil || len(since) != 1 {
		t.Errorf("DocHistory since the 4th minute = %s, %v; want one document", since, err)
	}
	if every, err := st.DocHistory(ctx, "", store.DocHealth, time.Time{}); err != nil || len(every) != 3 || every[2].Gateway != "gw-2" {
		t.Errorf("DocHistory of every gateway = %s, %v; want gw-1's 2 then gw-2's", every, err)
	}
	for _, bad := range []store.Doc{
		{Gateway: "gw-1", Kind: store.DocHealth, Received: Base, Body: []byte(`not json`)},
		{Gateway: "gw-1", Kind: store.DocHealth, Received: Base, Body: []byte(`[1]`)},
		{Gateway: "gw-1", Kind: "audit", Received: Base, Body: []byte(`{}`)},
		{Gateway: "", Kind: store.DocHealth, Received: Base, Body: []byte(`{}`)},
		{Gateway: "gw-1", Kind: store.DocHealth, Received: Base, Body: fmt.Appendf(nil, `{"x":"%0*d"}`, store.MaxDocSize, 0)},
	} {
		if err := st.RecordDocs(ctx, []store.Doc{healthDoc("gw-9", 1), bad}, 2); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("RecordDocs(%q %q) = %v, want ErrInvalid", bad.Kind, bad.Body[:min(len(bad.Body), 20)], err)
		}
	}
	wantCount(t, dsn, "SELECT count(*) FROM gateway_docs WHERE gateway = 'gw-9'", 0)
}

func (s suite) activity(t *testing.T) {
	_, st := s.migrated(t)
	ctx := context.Background()
	b1, b3, b2 := DataBatch("gw-1", 1, 8, "a"), DataBatch("gw-1", 3, 8, "a"), DataBatch("gw-1", 2, 8, "a")
	b3.Received, b3.ConfigVersion = Base.Add(3*time.Minute), 5
	b2.Received, b2.ConfigVersion = Base.Add(9*time.Minute), 4 // published again late: not the newest
	for i := range b3.Readings {
		b3.Readings[i].Time = b3.Readings[i].Time.Add(time.Hour)
		b3.Readings[i].Flags = 2 // stuck
	}
	commit(t, st, outcomes(store.New, 2), b1, b3)
	commit(t, st, outcomes(store.New, 2), b2, GapBatch("gw-2", 4, 1, 3, 30, "max-bytes"))
	got, err := st.Activity(ctx, "")
	if err != nil {
		t.Fatalf("Activity: %v", err)
	}
	want := []store.Activity{
		{Gateway: "gw-1", Batches: 3, Readings: 24, LastSeq: 3, LastReceived: Base.Add(3 * time.Minute), ConfigVersion: 5},
		{Gateway: "gw-2", Batches: 1, GapRecords: 1, DroppedReadings: 30, LastSeq: 4, LastReceived: Base.Add(time.Minute)},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Activity =\n%+v\nwant\n%+v", got, want)
	}
	if one, err := st.Activity(ctx, "gw-2"); err != nil || len(one) != 1 || one[0].Gateway != "gw-2" {
		t.Errorf("Activity(gw-2) = %+v, %v", one, err)
	}
	latest, err := st.LatestReadings(ctx, "gw-1")
	if err != nil {
		t.Fatalf("LatestReadings: %v", err)
	}
	if len(latest) != 4 {
		t.Fatalf("LatestReadings = %d channels, want 4", len(latest))
	}
	for _, l := range latest {
		// b3's readings are an hour later than b1's and b2's, whatever the commit order.
		if l.Gateway != "gw-1" || l.Flags != 2 || l.Time.Before(Base.Add(time.Hour)) || l.Value == nil || *l.Value < 3000 {
			t.Errorf("LatestReading %+v: want b3's, an hour after Base, flagged stuck", l)
		}
	}
	series, err := st.Series(ctx, "gw-1", Base.Add(time.Hour))
	if err != nil || len(series) != 8 {
		t.Fatalf("Series since the hour = %d readings, %v; want b3's 8", len(series), err)
	}
	for i := 1; i < len(series); i++ {
		a, b := series[i-1], series[i]
		if a.Device+a.Channel > b.Device+b.Channel || (a.Channel == b.Channel && b.Time.Before(a.Time)) {
			t.Errorf("Series out of order at %d: %+v then %+v", i, a, b)
		}
	}
	all, err := st.Series(ctx, "gw-1", time.Time{})
	if err != nil || len(all) != 24 {
		t.Errorf("Series of everything = %d readings, %v; want 24", len(all), err)
	}
}

func (s suite) transitions(t *testing.T) {
	dsn, st := s.migrated(t)
	ctx := context.Background()
	at := func(m int) time.Time { return Base.Add(time.Duration(m) * time.Minute) }
	apply := func(want int, ts ...store.Transition) {
		t.Helper()
		got, err := st.RecordTransitions(ctx, ts)
		if err != nil {
			t.Fatalf("RecordTransitions: %v", err)
		}
		if len(got) != want {
			t.Errorf("RecordTransitions applied %d of %+v, want %d", len(got), ts, want)
		}
	}
	apply(2, store.Transition{Gateway: "gw-1", Time: at(0), To: "OK", Reason: "ok"},
		store.Transition{Gateway: "gw-2", Time: at(0), To: "OK", Reason: "ok"})
	apply(0, store.Transition{Gateway: "gw-1", Time: at(1), To: "SILENT", Reason: "first again"})
	apply(1, store.Transition{Gateway: "gw-1", Time: at(2), From: "OK", To: "OFFLINE", Reason: "last will", Alert: true})
	apply(0, store.Transition{Gateway: "gw-1", Time: at(3), From: "OK", To: "SILENT", Reason: "stale from"})
	apply(1, store.Transition{Gateway: "gw-1", Time: at(4), From: "OFFLINE", To: "OK", Reason: "back"})
	states, err := st.FleetStates(ctx)
	if err != nil {
		t.Fatalf("FleetStates: %v", err)
	}
	want := []store.FleetState{{Gateway: "gw-1", State: "OK", Reason: "back", Since: at(4)}, {Gateway: "gw-2", State: "OK", Reason: "ok", Since: at(0)}}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		t.Errorf("FleetStates = %+v, want %+v", states, want)
	}
	ts, err := st.Transitions(ctx, "gw-1", time.Time{}, 2)
	if err != nil {
		t.Fatalf("Transitions: %v", err)
	}
	wantTs := []store.Transition{
		{Gateway: "gw-1", Time: at(4), From: "OFFLINE", To: "OK", Reason: "back"},
		{Gateway: "gw-1", Time: at(2), From: "OK", To: "OFFLINE", Reason: "last will", Alert: true},
	}
	if fmt.Sprint(ts) != fmt.Sprint(wantTs) {
		t.Errorf("Transitions(gw-1, limit 2) =\n%+v\nwant\n%+v", ts, wantTs)
	}
	if all, err := st.Transitions(ctx, "", at(1), 0); err != nil || len(all) != 2 {
		t.Errorf("Transitions since minute 1 = %+v, %v; want 2", all, err)
	}
	wantCount(t, dsn, "SELECT count(*) FROM fleet_transitions", 4)

	// Replicas racing to record the same change: one does.
	st2 := openStore(t, dsn)
	var wg sync.WaitGroup
	var mu sync.Mutex
	applied := 0
	for _, x := range []store.Store{st, st2, st, st2} {
		wg.Go(func() {
			got, err := x.RecordTransitions(ctx, []store.Transition{{Gateway: "gw-2", Time: at(5), From: "OK", To: "BACKLOG", Reason: "growing"}})
			if err != nil {
				t.Errorf("racing RecordTransitions: %v", err)
			}
			mu.Lock()
			applied += len(got)
			mu.Unlock()
		})
	}
	wg.Wait()
	if applied != 1 {
		t.Errorf("racing replicas applied the same transition %d times, want once", applied)
	}
	wantCount(t, dsn, "SELECT count(*) FROM fleet_transitions WHERE gateway = 'gw-2'", 2)
}

// readingAt returns a reading of channel ch of device sps30 at Base plus sec
// seconds, a read error when bad.
func readingAt(ch string, sec int, bad bool) store.Reading {
	r := store.Reading{Device: "sps30", Channel: ch, Unit: "ug/m3", Time: Base.Add(time.Duration(sec) * time.Second)}
	if bad {
		r.Flags = 1 << 4 // reading.ReadError
	} else {
		v := float64(sec)
		r.Value = &v
	}
	return r
}

// readingsBatch returns data batch seq of gw holding rs.
func readingsBatch(gw string, seq uint64, rs ...store.Reading) store.Batch {
	b := DataBatch(gw, seq, 0, "good")
	b.Readings = rs
	return b
}

// wantLatest checks, per channel of gw, the newest reading's time and flags
// and the newest good reading's time (-1: none), in seconds after Base.
func wantLatest(t *testing.T, st store.Store, gw string, want map[string][3]int) {
	t.Helper()
	got, err := st.LatestReadings(context.Background(), gw)
	if err != nil {
		t.Fatalf("LatestReadings: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("LatestReadings(%s) = %d channels, want %d", gw, len(got), len(want))
	}
	sec := func(at time.Time) int {
		if at.IsZero() {
			return -1
		}
		return int(at.Sub(Base) / time.Second)
	}
	for _, l := range got {
		w, ok := want[l.Channel]
		if g := [3]int{sec(l.Time), int(l.Flags), sec(l.LastGood)}; !ok || g != w {
			t.Errorf("channel %s: newest at %ds flags %d, newest good at %ds; want %v (seconds after Base, flags, good)", l.Channel, g[0], g[1], g[2], w)
		}
	}
}

// goodTime checks the time of each channel's newest good reading beside its
// newest reading: read errors do not move it, a late batch's older good
// reading does, within one batch and across commits.
func (s suite) goodTime(t *testing.T) {
	_, st := s.migrated(t)
	// pm25 good at 0 and 10; pm10 good at 0, a read error at 10; nox never good.
	commit(t, st, outcomes(store.New, 1), readingsBatch("gw-1", 1,
		readingAt("pm25", 0, false), readingAt("pm10", 10, true), readingAt("pm25", 10, false), readingAt("pm10", 0, false), readingAt("nox", 10, true)))
	wantLatest(t, st, "gw-1", map[string][3]int{"pm25": {10, 0, 10}, "pm10": {10, 16, 0}, "nox": {10, 16, -1}})
	// Read errors only, in two batches of one commit: the good times stay.
	commit(t, st, outcomes(store.New, 2),
		readingsBatch("gw-1", 2, readingAt("pm25", 20, true), readingAt("pm10", 20, true)),
		readingsBatch("gw-1", 3, readingAt("pm25", 30, true), readingAt("pm10", 30, true), readingAt("nox", 30, true)))
	wantLatest(t, st, "gw-1", map[string][3]int{"pm25": {30, 16, 10}, "pm10": {30, 16, 0}, "nox": {30, 16, -1}})
	// A batch published again late: its good pm10 reading at 15 is older
	// than the newest reading and newer than the newest good one.
	commit(t, st, outcomes(store.New, 1), readingsBatch("gw-1", 9, readingAt("pm10", 15, false), readingAt("pm25", 5, false)))
	wantLatest(t, st, "gw-1", map[string][3]int{"pm25": {30, 16, 10}, "pm10": {30, 16, 15}, "nox": {30, 16, -1}})
	// A good reading becomes both.
	commit(t, st, outcomes(store.New, 1), readingsBatch("gw-1", 4, readingAt("nox", 40, false)))
	wantLatest(t, st, "gw-1", map[string][3]int{"pm25": {30, 16, 10}, "pm10": {30, 16, 15}, "nox": {40, 0, 40}})
	// A duplicate changes nothing.
	commit(t, st, outcomes(store.Duplicate, 1), readingsBatch("gw-1", 9, readingAt("pm10", 15, false), readingAt("pm25", 5, false)))
	wantLatest(t, st, "gw-1", map[string][3]int{"pm25": {30, 16, 10}, "pm10": {30, 16, 15}, "nox": {40, 0, 40}})
}

// migrateGoodTime checks migration 3 on a database of version 2 holding
// latest readings: a channel whose newest reading is good starts with its
// time as the newest good one, a read-error one with none, until a batch
// brings a good reading.
func (s suite) migrateGoodTime(t *testing.T) {
	dsn := s.open(t)
	ctx := context.Background()
	if _, _, err := store.Migrate(ctx, dsn); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	commit(t, st, outcomes(store.New, 1), readingsBatch("gw-1", 1, readingAt("pm25", 0, false), readingAt("pm10", 0, false), readingAt("pm10", 10, true)))
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Back to version 2: what migration 3 adds, taken away.
	Exec(t, dsn, "ALTER TABLE latest_readings DROP COLUMN good_time")
	Exec(t, dsn, "DELETE FROM schema_version WHERE version = 3")
	if _, err := store.Open(ctx, dsn); !errors.Is(err, store.ErrSchemaVersion) {
		t.Fatalf("Open of a version 2 database = %v, want ErrSchemaVersion", err)
	}
	from, to, err := store.Migrate(ctx, dsn)
	if err != nil || from != 2 || to != 3 {
		t.Fatalf("Migrate of a version 2 database = %d, %d, %v; want 2, 3, nil", from, to, err)
	}
	st = openStore(t, dsn)
	wantLatest(t, st, "gw-1", map[string][3]int{"pm25": {0, 0, 0}, "pm10": {10, 16, -1}})
	commit(t, st, outcomes(store.New, 1), readingsBatch("gw-1", 2, readingAt("pm10", 20, true), readingAt("pm10", 15, false)))
	wantLatest(t, st, "gw-1", map[string][3]int{"pm25": {0, 0, 0}, "pm10": {20, 16, 15}})
}
