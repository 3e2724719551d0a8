package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/store"
)

// Serve is `edgegw ingest run`: it loads the configuration's keys, opens its
// database and runs the service until ctx is done.
func Serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	deps, err := LoadDeps(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer deps.Store.Close()
	s, err := New(cfg, deps)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// Migrate is `edgegw ingest migrate`: it creates or upgrades the schema of
// the database and says what it did.
func Migrate(ctx context.Context, dsn string, out io.Writer) error {
	from, to, err := store.Migrate(ctx, dsn)
	if err != nil {
		return err
	}
	if from == to {
		_, err = fmt.Fprintf(out, "schema at version %d, nothing to do\n", to)
	} else {
		_, err = fmt.Fprintf(out, "schema migrated from version %d to %d\n", from, to)
	}
	return err
}

// PrintGaps is `edgegw ingest gaps`: the sequence numbers missing per
// gateway, with their cause, as a table or JSON lines.
func PrintGaps(ctx context.Context, dsn, gateway string, asJSON bool, out io.Writer) error {
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	gaps, err := db.Missing(ctx, gateway)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(out)
		for _, g := range gaps {
			if err := enc.Encode(gapJSON{Gateway: g.Gateway, From: g.From, To: g.To, Count: g.To - g.From + 1,
				Cause: g.Cause, Reason: g.Reason, RecordSeq: g.RecordSeq, Readings: g.Readings}); err != nil {
				return err
			}
		}
		return nil
	}
	if len(gaps) == 0 {
		_, err := fmt.Fprintln(out, "no sequence numbers missing")
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GATEWAY\tSEQ\tCOUNT\tCAUSE")
	for _, g := range gaps {
		seq := fmt.Sprint(g.From)
		if g.To != g.From {
			seq += ".." + fmt.Sprint(g.To)
		}
		cause := "not received yet"
		if g.Cause == "gap-record" {
			cause = fmt.Sprintf("dropped by the gateway: %s (gap record seq %d, %d readings)", g.Reason, g.RecordSeq, g.Readings)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", g.Gateway, seq, g.To-g.From+1, cause)
	}
	return tw.Flush()
}

type gapJSON struct {
	Gateway   string `json:"gateway"`
	From      uint64 `json:"from"`
	To        uint64 `json:"to"`
	Count     uint64 `json:"count"`
	Cause     string `json:"cause"`
	Reason    string `json:"reason,omitempty"`
	RecordSeq uint64 `json:"record_seq,omitempty"`
	Readings  uint64 `json:"readings,omitempty"`
}

// PrintStatus is `edgegw ingest status`: what the database holds, as text
// or one JSON object.
func PrintStatus(ctx context.Context, dsn string, asJSON bool, out io.Writer) error {
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.Stats(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(out).Encode(map[string]any{
			"gateways": st.Gateways, "batches": st.Batches, "readings": st.Readings, "gap_records": st.GapRecords,
			"audits": st.Audits, "dropped_readings": st.DroppedReadings, "rejects": st.Rejects,
		})
	}
	var rej []string
	for _, r := range slices.Sorted(maps.Keys(st.Rejects)) {
		rej = append(rej, fmt.Sprintf("%s=%d", r, st.Rejects[r]))
	}
	_, err = fmt.Fprintf(out, "gateways=%d batches=%d readings=%d gap_records=%d dropped_readings=%d audits=%d rejects=[%s]\n",
		st.Gateways, st.Batches, st.Readings, st.GapRecords, st.DroppedReadings, st.Audits, strings.Join(rej, " "))
	return err
}

// openFleet opens the configuration's database for the fleet commands.
func openFleet(ctx context.Context, cfg Config) (*fleet.Fleet, error) {
	db, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	return &fleet.Fleet{Store: db, Thresholds: cfg.Fleet, Now: time.Now}, nil
}

// FleetStatus is `edgegw fleet status`: every gateway's state computed now
// from the database, the counts, then the worst boxes first.
func FleetStatus(ctx context.Context, cfg Config, filter fleet.Filter, asJSON bool, out io.Writer) error {
	f, err := openFleet(ctx, cfg)
	if err != nil {
		return err
	}
	defer f.Store.Close()
	sum, err := f.Status(ctx)
	if err != nil {
		return err
	}
	return fleet.WriteStatus(out, filter.Apply(sum), asJSON)
}

// FleetShow is `edgegw fleet show GW`: one gateway's state, devices, gaps,
// configuration history and last readings.
func FleetShow(ctx context.Context, cfg Config, gateway string, asJSON bool, out io.Writer) error {
	f, err := openFleet(ctx, cfg)
	if err != nil {
		return err
	}
	defer f.Store.Close()
	d, err := f.Show(ctx, gateway)
	if err != nil {
		return err
	}
	return fleet.WriteDetail(out, d, asJSON)
}
