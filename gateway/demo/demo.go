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

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/mqtt"

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
	yaml := fmt.Sprintf(configYAML, gatewayID, f.keys, state, addr, f.ca, f.gwCert, f.gwKey, f.opsPub, f.privacyPub)
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
	agent, err := gateway.New(cfg, gateway.Deps{Logger: o.Logger, DrainOnStop: 10 * time.Second, Version: o.Version})
	if err != nil {
		return err
	}

	// The backend side: verify with the gateway's public identity, open with
	// the two recipient private keys the gateway never sees.
	trust, err := envelope.LoadTrust(filepath.Join(f.keys, "identity.pub"))
	if err != nil {
		return err
	}
	var rks []*keys.RecipientPrivate
	for _, p := range []string{f.opsKey, f.privacyKey} {
		k, err := keys.LoadRecipientPrivate(p)
		if err != nil {
			return err
		}
		rks = append(rks, k)
	}
	recv := backend.NewReceiver(trust, rks...)
	tbl := newTable(o.Out)
	subCtx, stopSub := context.WithCancel(ctx)
	defer stopSub()
	subDone := make(chan error, 1)
	go func() {
		subDone <- mqtt.Subscribe(subCtx, mqtt.SubscribeConfig{
			Broker: "ssl://" + addr, CA: f.ca, Cert: f.beCert, Key: f.beKey,
			ClientID: "demo-backend", Topics: []string{"city/+/data/#"}, Logger: o.Logger, BackoffMax: time.Second,
		}, func(topic string, payload []byte) {
			res, err := recv.Handle(topic, payload)
			tbl.received(res, err)
		})
	}()

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
	// Wait for the backend to receive the drained backlog.
	deadline := time.Now().Add(15 * time.Second)
	for recv.Summary().Readings < produced && time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	tbl.tick(produced, "done", agent.Health().BufferBatches)
	stopSub()
	<-subDone
	sum := recv.Summary()
	lost := int64(produced) - int64(sum.Readings)
	fmt.Fprintf(o.Out, "demo: sent=%d received=%d lost=%d duplicates=%d\n", produced, sum.Readings, lost, sum.Duplicates)
	line, bufErr := bufferCheck(snapshot, f)
	fmt.Fprintln(o.Out, line)
	if lost != 0 || len(sum.Rejected) > 0 || len(sum.Missing) > 0 {
		return fmt.Errorf("demo: %s; missing sequence numbers %v", sum, recv.Missing(gatewayID))
	}
	return bufErr
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
