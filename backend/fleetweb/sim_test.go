package fleetweb_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/backend/store/storetest"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/internal/must"
)

// now is the simulated fleet's clock.
var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// simCounts is how many gateways of the simulated fleet are in each state.
var simCounts = map[fleet.State]int{
	fleet.OK: 25, fleet.Degraded: 5, fleet.Config: 4, fleet.Backlog: 3, fleet.DataGap: 4, fleet.Silent: 4, fleet.Offline: 5,
}

// chartGateway is an OK gateway whose aq-1 pm25 channel has chartPoints
// readings with a value over the last 24 hours, and one read error; it
// dropped batches 2 and 3 between 6 and 5 hours ago (a signed gap record).
const (
	chartGateway = "north-001"
	chartPoints  = 48
)

// simFleet is a simulated fleet in an SQLite database.
type simFleet struct {
	fleet  *fleet.Fleet
	states map[string]fleet.State // gateway -> the state it was built to be in
}

// newSimFleet stores batches, health and configuration status documents of
// 50 gateways in three groups, in every state, commits them through the
// store API, and records their states once.
func newSimFleet(t testing.TB) *simFleet {
	t.Helper()
	st := storetest.Open(t, "sqlite:"+filepath.Join(t.TempDir(), "ingest.db"))
	var th fleet.Thresholds
	th.Defaults()
	sf := &simFleet{fleet: &fleet.Fleet{Store: st, Thresholds: th, Now: func() time.Time { return now }}, states: map[string]fleet.State{}}
	groups := []string{"north", "south", "centre"}
	i := 0
	for _, state := range fleet.States {
		for range simCounts[state] {
			gw := fmt.Sprintf("%s-%03d", groups[i%len(groups)], i/len(groups)+1)
			i++
			sf.states[gw] = state
			sf.build(t, gw, state)
		}
	}
	if _, _, err := sf.fleet.Record(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sf
}

// build stores what makes gw be in state at now.
func (sf *simFleet) build(t testing.TB, gw string, state fleet.State) {
	t.Helper()
	ctx := context.Background()
	st := sf.fleet.Store
	health := func(at time.Duration, body string) {
		t.Helper()
		must.NoError(t, st.RecordDocs(ctx, []store.Doc{{Gateway: gw, Kind: store.DocHealth, Received: now.Add(-at), Body: []byte(body)}}, 10))
	}
	alive := func(at time.Duration, buffered int) {
		health(at, fmt.Sprintf(`{"gateway":%q,"version":"1.4.0","config_version":3,"buffer_batches":%d,"devices":{"aq-1":{"polls":2880,"errors":1,"last_ok":%q}}}`,
			gw, buffered, now.Add(-at).Format(time.RFC3339)))
	}
	commit := func(seq uint64, received time.Duration, rs []store.Reading) {
		t.Helper()
		b := store.Batch{Gateway: gw, Seq: seq, Class: "telemetry", KeyID: []byte{1}, ConfigVersion: 3, Created: now.Add(-received - time.Second),
			Received: now.Add(-received), HeaderHash: sha256.Sum256(fmt.Appendf(nil, "%s/%d", gw, seq)), Size: 100, Readings: rs}
		if _, err := st.Commit(ctx, []store.Batch{b}); err != nil {
			t.Fatal(err)
		}
	}
	day := dayOfReadings(gw == chartGateway)
	switch {
	case gw == chartGateway:
		// Batches 2 and 3 dropped between 6 h and 5 h ago, as its gap
		// record 4 says.
		commit(1, 6*time.Hour, day)
		gap := store.Batch{Gateway: gw, Seq: 4, Class: store.ClassGap, ConfigVersion: 3, Created: now.Add(-5 * time.Hour), Received: now.Add(-5 * time.Hour),
			HeaderHash: sha256.Sum256(fmt.Appendf(nil, "%s/4", gw)), Size: 90, Gap: &store.Gap{FromSeq: 2, ToSeq: 3, Batches: 2, Readings: 200, Reason: "max-bytes"}}
		if _, err := st.Commit(ctx, []store.Batch{gap}); err != nil {
			t.Fatal(err)
		}
		commit(5, 5*time.Second, nil)
		alive(20*time.Second, 0)
	case state == fleet.OK:
		commit(1, 5*time.Second, day)
		alive(20*time.Second, 0)
	case state == fleet.Degraded:
		day[len(day)-1].Flags = uint16(reading.Stuck)
		commit(1, 5*time.Second, day)
		alive(20*time.Second, 0)
	case state == fleet.Config:
		commit(1, 5*time.Second, day)
		alive(20*time.Second, 0)
		body := fmt.Sprintf(`{"gateway":%q,"version":4,"state":"rolled-back","reason":"probation: broker unreachable","time":%q}`, gw, now.Add(-time.Hour).Format(time.RFC3339))
		must.NoError(t, st.RecordDocs(ctx, []store.Doc{{Gateway: gw, Kind: store.DocConfigStatus, Received: now.Add(-time.Hour), Body: []byte(body)}}, 10))
	case state == fleet.Backlog:
		commit(1, 5*time.Second, day)
		alive(3*time.Minute, 10)
		alive(2*time.Minute, 20)
		alive(time.Minute, 30)
	case state == fleet.DataGap:
		commit(1, time.Minute, day)
		commit(4, 5*time.Second, nil)
		alive(20*time.Second, 0)
	case state == fleet.Silent:
		alive(20*time.Second, 0)
	case state == fleet.Offline:
		commit(1, 10*time.Minute, day)
		health(9*time.Minute, `{"state":"offline"}`)
	}
}

// dayOfReadings returns a reading of aq-1's pm25 and co2 every 30 minutes
// over the last 24 hours (chartPoints of each), and when withError a read
// error of pm25 too.
func dayOfReadings(withError bool) []store.Reading {
	var rs []store.Reading
	for i := range chartPoints {
		at := now.Add(-24*time.Hour + time.Duration(i+1)*30*time.Minute)
		pm, co2 := 5+float64(i%7), 420+float64(i*3)
		rs = append(rs, store.Reading{Device: "aq-1", Channel: "pm25", Unit: "ug/m3", Time: at, Value: &pm},
			store.Reading{Device: "aq-1", Channel: "co2", Unit: "ppm", Time: at, Value: &co2})
	}
	if withError {
		rs = append(rs, store.Reading{Device: "aq-1", Channel: "pm25", Unit: "ug/m3", Time: now.Add(-12*time.Hour - time.Minute), Flags: uint16(reading.ReadError)})
	}
	return rs
}

// TestSimFleetStates: the simulated fleet is in the states it was built for,
// so that the page tests compare with a known truth.
func TestSimFleetStates(t *testing.T) {
	sf := newSimFleet(t)
	sum, err := sf.fleet.Status(context.Background())
	must.NoError(t, err)
	if len(sum.Boxes) != 50 {
		t.Fatalf("%d gateways, want 50", len(sum.Boxes))
	}
	for _, b := range sum.Boxes {
		if b.State != sf.states[b.Gateway] {
			t.Errorf("%s: %s (%s), built to be %s", b.Gateway, b.State, b.Reason, sf.states[b.Gateway])
		}
	}
}
