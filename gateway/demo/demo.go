package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgegw/edgegw/backend/fleet"
	// The emulated buses ("sim:") the demo's devices are on. The drivers
	// themselves are the binary's (drivers/all).
	_ "github.com/edgegw/edgegw/drivers/sim"
	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/config"
)

// Options configures a demo run.
type Options struct {
	Duration time.Duration // how long the devices are polled; the outage starts at 40 % of it
	Outage   time.Duration // how long the broker is down
	Out      io.Writer     // the live table and the summary
	Logger   *slog.Logger  // the agent's warnings and errors
	Keep     bool          // keep the temporary directory (its path is printed)
	Version  string        // the binary's version, shown by edgegw status
}

// Run runs the demo and returns an error when any reading was lost or the
// buffer check failed.
func Run(ctx context.Context, o Options) error {
	dir, err := os.MkdirTemp("", "edgegw-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if o.Keep {
		fmt.Fprintf(o.Out, "demo: files in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	f, brokerPEM, err := setup(dir)
	if err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	stls, err := serverTLS(brokerPEM[0], brokerPEM[1], brokerPEM[2])
	if err != nil {
		return err
	}
	b := &broker{addr: addr, tls: stls, store: filepath.Join(dir, "broker.db")}
	if err := b.start(); err != nil {
		return err
	}
	defer b.stop()

	cfgPath := filepath.Join(dir, "gateway", "edgegw.yaml")
	state := filepath.Join(dir, "gateway", "state")
	yaml := fmt.Sprintf(configYAML, gatewayID, f.keys, state, addr, f.ca, f.gwCert, f.gwKey, f.opsPub, f.privacyPub, f.ingestPub)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	cfg, err := config.Load(cfgPath)
	if err == nil {
		err = gateway.CheckConfig(cfg)
	}
	if err != nil {
		return fmt.Errorf("demo: the demo runs every driver of drivers/all, which this binary must link (the full build, make build): %w", err)
	}
	agent, err := gateway.New(cfg, gateway.Deps{Logger: o.Logger, DrainOnStop: 10 * time.Second, Version: o.Version}, nil)
	if err != nil {
		return err
	}

	// The backend side: edgegw ingest on an SQLite file verifies with the
	// gateway's public identity, opens with the two recipient private keys
	// the gateway never sees, commits, and sends signed receipts.
	tbl := newTable(o.Out)
	ing, err := startIngest(ctx, f, "ssl://"+addr, o.Logger, tbl.received)
	if err != nil {
		return err
	}
	defer ing.stop()
	fmt.Fprintf(o.Out, "demo: fleet page and metrics while the demo runs: %s (and %smetrics)\n", ing.svc.WebURL(), ing.svc.WebURL())

	agentCtx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan error, 1)
	go func() { agentDone <- agent.Run(agentCtx) }()

	snapshot := filepath.Join(dir, "buffer-snapshot.db")
	// sent counts the readings the devices produced, as the agent saw them.
	sent := func() uint64 {
		var n uint64
		for _, d := range agent.Health().Devices {
			n += d.Readings
		}
		return n
	}
	err = timeline(ctx, o, b, tbl, sent, func() int { return agent.Health().BufferBatches }, func() error { return agent.BufferSnapshot(snapshot) })
	stopAgent()
	err = errors.Join(err, <-agentDone)
	if err != nil {
		return err
	}
	produced := sent()
	// Wait for the database to hold the drained backlog.
	deadline := time.Now().Add(15 * time.Second)
	for ing.stored() < produced && time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	tbl.tick(produced, "done", agent.Health().BufferBatches)
	stored := ing.stored()
	dups := ing.svc.Stats().Duplicates
	ing.stop()
	sum, err := ing.svc.Fleet.Status(ctx)
	if err != nil {
		return err
	}
	res, err := ing.result(ctx)
	if err != nil {
		return err
	}
	lost := int64(produced) - int64(stored)
	fmt.Fprintf(o.Out, "demo: sent=%d stored=%d lost=%d duplicates=%d\n", produced, stored, lost, dups)
	fmt.Fprintf(o.Out, "demo: the readings are in table readings of %s; query it with\n", ing.db)
	fmt.Fprintf(o.Out, "  sqlite3 %s \"SELECT device, channel, count(*), round(avg(value), 2) FROM readings GROUP BY 1, 2\"\n", ing.db)
	fmt.Fprintf(o.Out, "  edgegw ingest status --config %s   (and: edgegw ingest gaps)%s\n", ing.cfgPath, keepHint(o.Keep))
	fmt.Fprintf(o.Out, "demo: the fleet, as `edgegw fleet status --config %s` prints it:\n", ing.cfgPath)
	if err := fleet.WriteStatus(o.Out, sum, false); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	line, bufErr := bufferCheck(snapshot, f)
	fmt.Fprintln(o.Out, line)
	if lost != 0 || len(res.rejects) > 0 || len(res.missing) > 0 {
		return fmt.Errorf("demo: stored %d of %d readings; rejects %v; missing %v", stored, produced, res.rejects, res.missing)
	}
	return bufErr
}

// keepHint reminds that the files go away unless the demo keeps them.
func keepHint(keep bool) string {
	if keep {
		return ""
	}
	return "; run the demo with --keep to keep the files"
}

// timeline runs the scripted part: polling, the broker outage with a
// snapshot of the buffer while it holds the backlog, and the restart.
func timeline(ctx context.Context, o Options, b *broker, tbl *table, sent func() uint64, depth func() int, snapshot func() error) error {
	start := time.Now()
	outageAt := start.Add(o.Duration * 2 / 5)
	restartAt := outageAt.Add(o.Outage)
	end := start.Add(o.Duration)
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	phase := "up" // up, then down, then restarted
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-ticker.C:
			switch {
			case !now.Before(end):
				tbl.note("stopping the agent: open batches are closed, signed and drained")
				return nil
			case phase == "up" && !now.Before(outageAt):
				if err := b.stop(); err != nil {
					return err
				}
				phase = "down"
				tbl.note(fmt.Sprintf("broker stopped for %s: the agent keeps polling and buffering", o.Outage))
			case phase == "down" && !now.Before(restartAt):
				if err := snapshot(); err != nil {
					return err
				}
				if err := b.start(); err != nil {
					return err
				}
				phase = "restarted"
				tbl.note("broker restarted: the backlog drains")
			}
			state := phase
			if phase == "restarted" {
				state = "up"
			}
			tbl.tick(sent(), state, depth())
		}
	}
}
