package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/receipt"
	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/gateway/config"
	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/gateway/uplink"
)

// BufferFile is the name of the bbolt buffer file in the state directory.
const BufferFile = "buffer.db"

// Deps holds what the agent takes from its environment. Zero fields get
// production defaults.
type Deps struct {
	Now         func() time.Time // clock; default time.Now
	Logger      *slog.Logger     // default: discard
	ClockSynced func() bool      // default: the kernel's NTP state (ClockSynced)
	Version     string           // reported in health
	DrainOnStop time.Duration    // on stop, keep publishing up to this long until the buffer is empty
	LogLevel    *slog.LevelVar   // the logger's level, if a technician may change it
	// AllowCertMismatch lets the client certificate's common name differ
	// from gateway.id (New refuses that otherwise: the broker's ACL would
	// drop every publish). Only tests of that failure set it.
	AllowCertMismatch bool
}

// Fleet is fleet control as an agent sees it: gateway/fleet's Runner, which
// owns the configuration the agent runs. An agent built without one runs its
// configuration and refuses configurations pushed or applied.
type Fleet interface {
	// Offer receives a signed configuration document pushed by fleet
	// operations; it must not block.
	Offer(doc []byte)
	// ConfigStatus is the document the agent publishes retained on
	// config/status (see uplink.Deps); nil publishes nothing.
	ConfigStatus() []byte
	// ApplyLocal applies a configuration file given by an admin on the
	// control socket and returns its version.
	ApplyLocal(ctx context.Context, yaml []byte) (uint64, error)
	// ConfigSource says where the running configuration comes from, for
	// the status.
	ConfigSource() control.ConfigSource
}

// Buffer is what the agent needs of its buffer: a buffer.Store that keeps
// its batches in a file, so that it can say what it recovered of a damaged
// one and copy it for a technician (buffer.Bolt).
type Buffer interface {
	buffer.Store
	// Recovered describes what recovery found at open; empty when nothing.
	Recovered() string
	// Backup writes a consistent copy of the buffer file to path.
	Backup(path string) error
}

var _ Buffer = (*buffer.Bolt)(nil)

// Agent is a configured, running gateway.
type Agent struct {
	cfg     *config.Config
	deps    Deps
	fleet   Fleet // nil when not under fleet control
	log     *slog.Logger
	store   Buffer
	devices []*device
	buses   *drivers.BusSet // owned: closed when the agent stops
	batcher *batcher
	up      *uplink.Publisher
	started time.Time
	audit   *auditor        // the local audit trail, forwarded upstream
	watch   watchers        // the control socket's live streams
	flush   chan chan error // Flush requests, served by the sink
}

// New builds an agent from a validated configuration: it loads the identity
// and recipient keys, builds the devices and opens the buffer. fleet is the
// fleet runner the agent runs under, or nil.
func New(cfg *config.Config, deps Deps, fleet Fleet) (*Agent, error) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.ClockSynced == nil {
		deps.ClockSynced = ClockSynced
	}
	a := &Agent{cfg: cfg, deps: deps, fleet: fleet, log: deps.Logger, started: deps.Now(), flush: make(chan chan error)}
	id, err := keys.LoadIdentity(cfg.Gateway.Keys)
	if err != nil {
		return nil, err
	}
	if id.ID != cfg.Gateway.ID {
		return nil, fmt.Errorf("identity in %s is for %q, config is for %q", cfg.Gateway.Keys, id.ID, cfg.Gateway.ID)
	}
	recipients := map[string]*keys.RecipientPublic{}
	for class, path := range cfg.Recipients {
		if recipients[class], err = keys.LoadRecipientPublic(path); err != nil {
			return nil, fmt.Errorf("recipients.%s: %w", class, err)
		}
	}
	pinned, err := receipt.LoadKeys(cfg.Uplink.Receipts...)
	if err != nil {
		return nil, fmt.Errorf("uplink.receipts: %w", err)
	}
	a.buses = drivers.NewBusSet()
	// A bus missing now fails only its devices, at each poll, until it comes.
	if a.devices, err = buildDevices(cfg, deps, drivers.Deferred(a.buses)); err != nil {
		return nil, errors.Join(err, a.buses.Close())
	}
	if err := os.MkdirAll(cfg.Gateway.State, 0o700); err != nil {
		a.halt()
		return nil, fmt.Errorf("state directory: %w", err)
	}
	store, err := buffer.OpenBolt(filepath.Join(cfg.Gateway.State, BufferFile), buffer.Options{
		Durability: cfg.Batch.Durability,
		MaxBytes:   cfg.Buffer.MaxBytes,
		Reserve:    buffer.FileSize(cfg.Buffer.MaxBytes + openBytes(cfg)),
		MaxAge:     cfg.Buffer.MaxAge,
		Verify:     verifier(id),
		Now:        deps.Now,
		Logger:     deps.Logger,
		OnCommit:   func() { a.up.Notify() }, // a closed batch became publishable
	})
	if err != nil {
		a.halt()
		return nil, err
	}
	a.store = store
	upCfg := uplink.Config{
		Broker:            cfg.Uplink.Broker,
		CA:                cfg.Uplink.CA,
		Cert:              cfg.Uplink.Cert,
		Key:               cfg.Uplink.Key,
		TopicPrefix:       cfg.Uplink.TopicPrefix,
		GatewayID:         cfg.Gateway.ID,
		ClientID:          cfg.Uplink.ClientID,
		KeepAlive:         cfg.Uplink.Keepalive,
		Inflight:          cfg.Uplink.Inflight,
		BackoffMin:        cfg.Uplink.BackoffMin,
		BackoffMax:        cfg.Uplink.BackoffMax,
		HealthInterval:    cfg.Uplink.HealthInterval,
		Receipts:          pinned,
		ReceiptTimeout:    cfg.Uplink.ReceiptTimeout,
		Unreceipted:       cfg.Uplink.Unreceipted,
		AllowCertMismatch: deps.AllowCertMismatch,
	}
	upDeps := uplink.Deps{
		Marshal: func(b buffer.Batch) []byte { return envelope.Marshal(b.Header, b.Chunks, b.Trailer) },
		Health:  func() any { return a.Health() },
		Logger:  deps.Logger,
		Now:     deps.Now,
	}
	if fleet != nil {
		upDeps.OnConfig, upDeps.ConfigStatus = fleet.Offer, fleet.ConfigStatus
	}
	a.up, err = uplink.New(upCfg, a.store, upDeps)
	if err != nil {
		a.halt()
		return nil, errors.Join(err, a.store.Close())
	}
	if a.audit, err = openAuditor(cfg.Gateway.State, a.store, id, cfg.Version, deps.Now); err != nil {
		a.halt()
		return nil, errors.Join(err, a.store.Close())
	}
	a.batcher = &batcher{
		gatewayID:     cfg.Gateway.ID,
		configVersion: cfg.Version,
		identity:      id,
		recipients:    recipients,
		store:         a.store,
		maxReadings:   cfg.Batch.MaxReadings,
		maxDelay:      cfg.Batch.MaxDelay,
		now:           deps.Now,
		log:           deps.Logger,
		open:          map[string]*openBatch{},
	}
	return a, nil
}

// openBytes bounds what the open batches hold beyond buffer.max_bytes (the
// limits never drop an open batch): one per class, each up to
// max_readings readings of at most 64 sealed bytes.
func openBytes(cfg *config.Config) int64 {
	return int64(len(cfg.Recipients)) * int64(cfg.Batch.MaxReadings) * 64
}

// verifier returns the buffer's check of a stored batch: the gateway's own
// signature over its header and chunks, under the number it is stored
// with. A batch signed with another key (before the identity was replaced)
// cannot be checked here and passes; the backend checks it.
func verifier(id *keys.Identity) func(buffer.Batch) error {
	trust := envelope.NewTrust(id.Public())
	return func(b buffer.Batch) error {
		env, err := envelope.Parse(envelope.Marshal(b.Header, b.Chunks, b.Trailer))
		if err != nil {
			return err
		}
		if env.Header.Seq != b.Seq {
			return fmt.Errorf("batch %d: header says seq %d", b.Seq, env.Header.Seq)
		}
		var rej *envelope.RejectError
		if err := env.Verify(trust); errors.As(err, &rej) && rej.Reason == envelope.ReasonUntrustedGateway {
			return nil
		} else if err != nil {
			return err
		}
		return nil
	}
}

// buildDevices builds every configured device through the driver registry.
// All errors are reported at once, each naming the device's line.
func buildDevices(cfg *config.Config, deps Deps, buses drivers.Buses) ([]*device, error) {
	var devs []*device
	var errs []error
	hum := &humidity{threshold: float64(cfg.Quality.HumidRH)}
	for i, dc := range cfg.Devices {
		factory, ok := drivers.Lookup(dc.Driver)
		if !ok {
			errs = append(errs, cfg.DeviceError(i, "driver", dc.Driver, fmt.Sprintf("unknown driver (have %v)", drivers.Kinds())))
			continue
		}
		log := deps.Logger.With("driver", dc.Driver, "device", dc.Name)
		s, err := factory(driverDevice(dc), drivers.Deps{Now: deps.Now, Logger: log, Buses: buses})
		if err != nil {
			errs = append(errs, deviceErrors(cfg, i, err)...)
			continue
		}
		d := &device{name: dc.Name, class: dc.Class, interval: dc.Interval, sensor: s, humidity: hum, log: log}
		if desc, ok := s.(drivers.Describer); ok {
			d.channels = desc.Channels()
		}
		d.valid = newValidator(d.channels)
		devs = append(devs, d)
	}
	if len(errs) > 0 {
		halt(devs)
		return nil, errors.Join(errs...)
	}
	return devs, nil
}

// halt halts every device, ignoring errors: used when start-up fails.
func halt(devs []*device) {
	for _, d := range devs {
		d.sensor.Halt()
	}
}

// halt halts the devices and closes their buses.
func (a *Agent) halt() error {
	halt(a.devices)
	return a.buses.Close()
}

// Run runs the agent until ctx is done, then stops gracefully: it stops
// polling, seals every poll already read, closes the open batches, stops the
// uplink and closes the buffer. Nothing read before the stop is lost.
func (a *Agent) Run(ctx context.Context) error {
	drivers.Freeze()
	if r := a.store.Recovered(); r != "" {
		a.log.Error("buffer file was corrupt and was moved aside", "err", r)
	}
	if _, err := a.batcher.recover(); err != nil {
		return a.shutdown(err)
	}
	upCtx, stopUplink := context.WithCancel(context.WithoutCancel(ctx))
	upDone := make(chan error, 1)
	go func() { upDone <- a.up.Run(upCtx) }()

	ctlDone := a.serveControl(ctx)
	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	polls := make(chan poll, 64)
	var wg sync.WaitGroup
	for _, d := range a.devices {
		wg.Go(func() { d.run(pollCtx, a.deps.Now, a.deps.ClockSynced, polls) })
	}
	go func() { wg.Wait(); close(polls) }()
	a.log.Info("agent started", "device", len(a.devices))

	a.sink(polls)
	// What the buffer cannot commit now (a full disk) it drops at Close,
	// with its gap carried to the next start: not an error of the stop.
	err := errors.Join(a.batcher.closeAll(), uncommitted(a.store.Sync()), uncommitted(a.batcher.reportGap()))
	a.drain(a.deps.DrainOnStop)
	stopUplink()
	err = errors.Join(err, <-upDone, a.halt())
	<-ctlDone
	return a.shutdown(err)
}

// serveControl serves the control socket, unless it is off, until ctx is
// done. The returned channel is closed when the server has stopped. A socket
// that cannot be served is logged, not fatal: the readings still flow.
func (a *Agent) serveControl(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	c := a.cfg.Control
	if c.Socket == "off" {
		close(done)
		return done
	}
	srv := control.NewServer(a, a.audit, control.Options{
		Roles:  control.Roles{ViewerGroup: c.ViewerGroup, TechnicianGroup: c.TechnicianGroup, AdminGroup: c.AdminGroup},
		Logger: a.log,
		Now:    a.deps.Now,
	})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, c.Socket); err != nil {
			a.log.Error("control socket not served", "err", err)
		}
	}()
	return done
}

// uncommitted returns err unless it only says that the buffer has not
// committed yet (buffer.ErrNotCommitted): the buffer keeps such operations,
// or drops them with a gap record, never silently.
func uncommitted(err error) error {
	if errors.Is(err, buffer.ErrNotCommitted) {
		return nil
	}
	return err
}

// sink seals polls into batches until polls is closed, and closes batches
// when their max_delay passes. A damaged buffer file is replaced by the
// buffer itself, so nothing here stops the agent.
func (a *Agent) sink(polls <-chan poll) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, err := a.batcher.closeDue()
		if err := uncommitted(err); err != nil {
			a.log.Error("close batch failed", "err", err)
		}
		if err := uncommitted(a.batcher.reportGap()); err != nil {
			a.log.Error("gap record not stored", "err", err)
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = next.Sub(a.deps.Now())
		}
		timer.Reset(wait)
		select {
		case p, ok := <-polls:
			if !ok {
				return
			}
			a.watch.publish(p.readings)
			if err := a.batcher.add(p); err != nil {
				a.log.Error("poll not buffered", "device", p.readings[0].Device, "err", err)
			}
		case done := <-a.flush:
			done <- errors.Join(a.batcher.closeAll(), a.store.Sync())
		case <-timer.C:
		}
	}
}

// shutdown closes the buffer and joins its error to err.
func (a *Agent) shutdown(err error) error {
	if cerr := a.audit.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close audit trail: %w", cerr))
	}
	if cerr := a.store.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close buffer: %w", cerr))
	}
	a.log.Info("agent stopped")
	return err
}

// drain waits up to d for the uplink to empty the buffer.
func (a *Agent) drain(d time.Duration) {
	if d <= 0 {
		return
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for a.store.Stats().Batches > 0 {
		select {
		case <-deadline.C:
			a.log.Warn("stopping with batches not yet acknowledged; they are kept for the next start", "err", fmt.Errorf("%d batches buffered", a.store.Stats().Batches))
			return
		case <-tick.C:
		}
	}
}

// ConfigStatusChanged publishes the fleet's ConfigStatus now, or at the next
// connection.
func (a *Agent) ConfigStatusChanged() { a.up.ConfigStatusChanged() }

// Auditor returns the agent's audit trail.
func (a *Agent) Auditor() control.Auditor { return a.audit }

// BufferSnapshot writes a consistent copy of the buffer file to path.
func (a *Agent) BufferSnapshot(path string) error { return a.store.Backup(path) }
