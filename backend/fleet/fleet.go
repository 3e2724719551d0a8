package fleet

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/edgegw/edgegw/backend/store"
)

// Box is one gateway in the fleet view.
type Box struct {
	Gateway       string    `json:"gateway"`
	Group         string    `json:"group"`
	State         State     `json:"state"`
	Reason        string    `json:"reason"`
	Since         time.Time `json:"since,omitzero"` // when it entered State, as recorded; zero when not recorded yet
	Changes       int       `json:"changes"`        // state changes recorded within the flap window
	Flapping      bool      `json:"flapping"`       // Changes reached the flap threshold: its alerts are suppressed
	Version       string    `json:"version,omitempty"`
	ConfigVersion uint64    `json:"config_version"`
	LastCommitted time.Time `json:"last_committed,omitzero"` // when the ingest received its newest committed batch
	LastHealth    time.Time `json:"last_health,omitzero"`    // when the ingest received its newest health document
}

// Summary is the state of the whole fleet at one time.
type Summary struct {
	Time           time.Time      `json:"time"`
	Counts         map[State]int  `json:"counts"`
	Versions       map[string]int `json:"versions"`        // binary versions, "" as "unknown"
	ConfigVersions map[uint64]int `json:"config_versions"` // configuration versions
	Boxes          []Box          `json:"boxes"`           // worst first, then by gateway
}

// newSummary returns a summary at t of no boxes, every state counted 0.
func newSummary(t time.Time) Summary {
	s := Summary{Time: t, Counts: map[State]int{}, Versions: map[string]int{}, ConfigVersions: map[uint64]int{}}
	for _, st := range States {
		s.Counts[st] = 0
	}
	return s
}

// add appends b and counts its state and versions.
func (s *Summary) add(b Box) {
	s.Boxes = append(s.Boxes, b)
	s.Counts[b.State]++
	v := b.Version
	if v == "" {
		v = "unknown"
	}
	s.Versions[v]++
	s.ConfigVersions[b.ConfigVersion]++
}

// Fleet reads the gateways' data from a Store and computes their states.
type Fleet struct {
	Store      store.Store
	Thresholds Thresholds // with defaults applied
	Now        func() time.Time
	Logger     *slog.Logger // for documents that do not decode; nothing is logged when nil

	mu       sync.Mutex
	recorded Summary // what Record computed last; zero before
}

// Recent returns the summary Record computed last when it is younger than
// maxAge, and a summary computed now otherwise. The ingest records the
// states every Thresholds.Interval, so its pages need not compute them
// again for each request: with thousands of gateways that takes longer than
// a person waits.
func (f *Fleet) Recent(ctx context.Context, maxAge time.Duration) (Summary, error) {
	f.mu.Lock()
	sum := f.recorded
	f.mu.Unlock()
	if !sum.Time.IsZero() && f.Now().Sub(sum.Time) < maxAge {
		return sum, nil
	}
	return f.Status(ctx)
}

// inputs loads what the states need of every gateway (of one when gateway is
// not empty), in order of gateway. The reads run at once, and the health
// documents are decoded on every processor: a fleet of thousands is
// answered within a second.
func (f *Fleet) inputs(ctx context.Context, gateway string, now time.Time) ([]Input, error) {
	var (
		acts         []store.Activity
		hist, latest []store.Doc
		css          []store.Doc
		missing      []store.MissingRange
		lr           []store.LatestReading
	)
	// Enough history for the backlog trend and the poll intervals, and the
	// newest document of gateways that went quiet long ago.
	since := now.Add(-time.Duration(f.Thresholds.BacklogSamples+2) * f.Thresholds.HealthInterval)
	reads := []func() error{
		func() (err error) { acts, err = f.Store.Activity(ctx, gateway); return err },
		func() (err error) { hist, err = f.Store.DocHistory(ctx, gateway, store.DocHealth, since); return err },
		func() (err error) { latest, err = f.Store.Docs(ctx, store.DocHealth, gateway); return err },
		func() (err error) { css, err = f.Store.Docs(ctx, store.DocConfigStatus, gateway); return err },
		func() (err error) { missing, err = f.Store.Missing(ctx, gateway); return err },
		func() (err error) { lr, err = f.Store.LatestReadings(ctx, gateway); return err },
	}
	errs := make([]error, len(reads))
	var wg sync.WaitGroup
	for i, read := range reads {
		wg.Go(func() { errs[i] = read() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	by := map[string]*Input{}
	get := func(gw string) *Input {
		in := by[gw]
		if in == nil {
			in = &Input{Gateway: gw}
			by[gw] = in
		}
		return in
	}
	for i := range acts {
		get(acts[i].Gateway).Activity = &acts[i]
	}
	// The newest document is usually the history's last one too: decode it
	// once.
	newest := make(map[string]time.Time, len(hist))
	for _, d := range hist {
		newest[d.Gateway] = d.Received
	}
	docs := hist
	for _, d := range latest {
		if at, ok := newest[d.Gateway]; !ok || !at.Equal(d.Received) {
			docs = append(docs, d)
		}
	}
	for i, s := range f.parseAll(docs) {
		if s.At.IsZero() {
			continue // did not decode: logged
		}
		in := get(docs[i].Gateway)
		in.Health = append(in.Health, s)
	}
	for _, d := range css {
		var cs ConfigStatus
		if err := json.Unmarshal(d.Body, &cs); err != nil {
			f.log().Warn("config status document ignored", "gateway", d.Gateway, "err", err)
			continue
		}
		get(d.Gateway).ConfigStatus = &cs
	}
	for _, m := range missing {
		if m.Cause == store.CauseNotReceived {
			get(m.Gateway).Missing = append(get(m.Gateway).Missing, m)
		}
	}
	for _, l := range lr {
		get(l.Gateway).Latest = append(get(l.Gateway).Latest, l)
	}
	out := make([]Input, 0, len(by))
	for _, in := range by {
		slices.SortFunc(in.Health, func(a, b Sample) int { return a.At.Compare(b.At) })
		out = append(out, *in)
	}
	slices.SortFunc(out, func(a, b Input) int { return cmp.Compare(a.Gateway, b.Gateway) })
	return out, nil
}

// parseAll decodes health documents on every processor; a document that
// does not decode is logged and left as the zero Sample.
func (f *Fleet) parseAll(docs []store.Doc) []Sample {
	out := make([]Sample, len(docs))
	workers := min(runtime.GOMAXPROCS(0), (len(docs)+255)/256)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(docs); i += workers {
				s, err := parseHealth(docs[i])
				if err != nil {
					f.log().Warn("health document ignored", "err", err)
					continue
				}
				out[i] = s
			}
		})
	}
	wg.Wait()
	return out
}

func (f *Fleet) log() *slog.Logger {
	if f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}

// Status computes the state of every gateway now, from the database, with
// the recorded time each entered its state.
func (f *Fleet) Status(ctx context.Context) (Summary, error) {
	sum, _, err := f.status(ctx, "")
	return sum, err
}

// status computes the summary, of one gateway or all, and returns the
// inputs it used.
func (f *Fleet) status(ctx context.Context, gateway string) (Summary, []Input, error) {
	now := f.Now()
	ins, err := f.inputs(ctx, gateway, now)
	if err != nil {
		return Summary{}, nil, fmt.Errorf("fleet status: %w", err)
	}
	recorded, err := f.Store.FleetStates(ctx)
	if err != nil {
		return Summary{}, nil, fmt.Errorf("fleet status: %w", err)
	}
	states := make(map[string]store.FleetState, len(recorded))
	for _, s := range recorded {
		states[s.Gateway] = s
	}
	changes, err := f.Store.Transitions(ctx, gateway, now.Add(-f.Thresholds.FlapWindow), 0)
	if err != nil {
		return Summary{}, nil, fmt.Errorf("fleet status: %w", err)
	}
	nchanges := map[string]int{}
	for _, t := range changes {
		if t.From != "" {
			nchanges[t.Gateway]++
		}
	}
	sum := newSummary(now)
	for _, in := range ins {
		v := f.Thresholds.Evaluate(in, now)
		b := Box{Gateway: in.Gateway, Group: f.Thresholds.Group(in.Gateway), State: v.State, Reason: v.Reason(),
			Changes: nchanges[in.Gateway]}
		b.Flapping = b.Changes >= f.Thresholds.FlapChanges
		if rec, ok := states[in.Gateway]; ok && State(rec.State) == v.State {
			b.Since = rec.Since
		}
		if in.Activity != nil {
			b.LastCommitted, b.ConfigVersion = in.Activity.LastReceived, in.Activity.ConfigVersion
		}
		for i := len(in.Health) - 1; i >= 0; i-- {
			h := in.Health[i]
			if b.LastHealth.IsZero() {
				b.LastHealth = h.At
			}
			if h.Health.State != "offline" {
				b.Version = h.Health.Version
				b.ConfigVersion = max(b.ConfigVersion, h.Health.ConfigVersion)
				break
			}
		}
		sum.add(b)
	}
	slices.SortStableFunc(sum.Boxes, func(a, b Box) int { return b.State.Severity() - a.State.Severity() })
	return sum, ins, nil
}

// Record computes every gateway's state now and records the changes since
// the last recorded states. A change to a state other than OK raises an
// alert unless the gateway raised one within the flap window: a flapping
// gateway alerts once. It returns the changes it recorded.
func (f *Fleet) Record(ctx context.Context) (Summary, []store.Transition, error) {
	sum, _, err := f.status(ctx, "")
	if err != nil {
		return Summary{}, nil, err
	}
	recorded, err := f.Store.FleetStates(ctx)
	if err != nil {
		return sum, nil, fmt.Errorf("fleet record: %w", err)
	}
	prev := make(map[string]string, len(recorded))
	for _, s := range recorded {
		prev[s.Gateway] = s.State
	}
	var ts []store.Transition
	for _, b := range sum.Boxes {
		from, ok := prev[b.Gateway]
		if ok && from == string(b.State) {
			continue
		}
		t := store.Transition{Gateway: b.Gateway, Time: sum.Time, From: from, To: string(b.State), Reason: b.Reason}
		if b.State != OK {
			t.Alert, err = f.mayAlert(ctx, b.Gateway, sum.Time)
			if err != nil {
				return sum, nil, err
			}
		}
		ts = append(ts, t)
	}
	applied, err := f.Store.RecordTransitions(ctx, ts)
	if err != nil {
		return sum, nil, fmt.Errorf("fleet record: %w", err)
	}
	for _, t := range applied {
		for i := range sum.Boxes {
			if sum.Boxes[i].Gateway == t.Gateway {
				sum.Boxes[i].Since = t.Time
			}
		}
	}
	f.mu.Lock()
	f.recorded = sum
	f.mu.Unlock()
	return sum, applied, nil
}

// mayAlert reports whether gateway raised no alert within the flap window.
func (f *Fleet) mayAlert(ctx context.Context, gateway string, now time.Time) (bool, error) {
	ts, err := f.Store.Transitions(ctx, gateway, now.Add(-f.Thresholds.FlapWindow), 0)
	if err != nil {
		return false, fmt.Errorf("fleet record: %w", err)
	}
	return !slices.ContainsFunc(ts, func(t store.Transition) bool { return t.Alert }), nil
}
