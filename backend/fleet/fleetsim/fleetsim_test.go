package fleetsim_test

import (
	"context"
	"flag"
	"log/slog"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/fleet/fleetsim"
	"github.com/edgegw/edgegw/internal/must"
)

var (
	simGateways = flag.Int("fleetsim.gateways", 200, "gateways of TestIntegrationFleetSim")
	simSeed     = flag.Int64("fleetsim.seed", 1, "seed of the fault schedule")
)

// TestIntegrationFleetSim runs a simulated fleet (200 gateways by default,
// -fleetsim.gateways) with real envelopes over real MQTT connections into a
// real ingest on SQLite, for 5 simulated minutes, faults starting between
// the 2nd and the 3rd: every faulty gateway reaches the state of its fault,
// every other one is OK, and the counts of the fleet status add up.
func TestIntegrationFleetSim(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test skipped with -short")
	}
	start := time.Now()
	s := fleetsim.Start(t, fleetsim.Options{Gateways: *simGateways, Faulty: max(*simGateways/20, 2*len(fleetsim.Faults)), Seed: *simSeed,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))})
	t.Logf("%d gateways connected in %v", s.Gateways(), time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	run := time.Now()
	must.NoError(t, s.Run(ctx, 5*time.Minute))
	envs, docs := s.Published()
	t.Logf("5 simulated minutes in %v: %d envelopes, %d documents", time.Since(run).Round(time.Millisecond), envs, docs)

	sum, err := s.Fleet.Status(ctx)
	must.NoError(t, err)
	if len(sum.Boxes) != s.Gateways() {
		t.Errorf("fleet status lists %d gateways, want %d", len(sum.Boxes), s.Gateways())
	}
	faulty := map[string]*fleetsim.Plan{}
	want := map[fleet.State]int{fleet.OK: s.Gateways() - len(s.Plans)}
	for _, p := range s.Plans {
		faulty[p.Gateway] = p
		want[p.Fault.Want()]++
		if p.Shown.IsZero() {
			t.Errorf("%s (%s from %s): never shown %s", p.Gateway, p.Fault, p.At.Format(time.TimeOnly), p.Fault.Want())
		} else {
			t.Logf("%s %-11s from %s: %s shown after %v", p.Gateway, p.Fault, p.At.Format(time.TimeOnly), p.Fault.Want(), p.Delay())
		}
	}
	for _, b := range sum.Boxes {
		w := fleet.OK
		if p := faulty[b.Gateway]; p != nil {
			w = p.Fault.Want()
		}
		if b.State != w {
			t.Errorf("%s is %s (%s), want %s", b.Gateway, b.State, b.Reason, w)
		}
	}
	for _, st := range fleet.States {
		if sum.Counts[st] != want[st] {
			t.Errorf("fleet status counts %d %s, want %d", sum.Counts[st], st, want[st])
		}
	}
	if n := s.Ingest.Stats().Rejected; len(n) == 0 {
		t.Errorf("the wrong-key gateways' envelopes were not rejected: %v", n)
	}
}
