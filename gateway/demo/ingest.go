package demo

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/backend/ingest"
	"github.com/edgegw/edgegw/backend/store"
)

// backendSide is the demo's `edgegw ingest`: the service on an SQLite file.
type backendSide struct {
	svc     *ingest.Service
	db      string // the SQLite file
	dsn     string
	cfgPath string // an ingest.yaml for `edgegw ingest status` on a kept demo
	st      store.Store
	cancel  context.CancelFunc
	done    chan error
}

// startIngest migrates the demo database and runs the ingest service until
// stop. observe sees every envelope's fate.
func startIngest(ctx context.Context, f *files, broker string, log *slog.Logger, observe func(backend.Result, error)) (*backendSide, error) {
	b := &backendSide{db: filepath.Join(f.dir, "backend", "ingest.db"), cfgPath: filepath.Join(f.dir, "backend", "ingest.yaml")}
	b.dsn = "sqlite:" + b.db
	doc := fmt.Sprintf(`# edgegw ingest
broker: %s
ca: %s
cert: %s
key: %s
client_id: demo-ingest
identity: %s
trust: [%s]
recipient_keys: [%s, %s]
database: %s
http: {listen: "127.0.0.1:0"}
`, broker, f.ca, f.beCert, f.beKey, f.ingestID, filepath.Join(f.keys, "identity.pub"), f.opsKey, f.privacyKey, b.dsn)
	if err := os.WriteFile(b.cfgPath, []byte(doc), 0o600); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	cfg, err := ingest.LoadConfig(b.cfgPath)
	if err != nil {
		return nil, err
	}
	if _, _, err := store.Migrate(ctx, b.dsn); err != nil {
		return nil, err
	}
	deps, err := ingest.LoadDeps(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	deps.Observe = observe
	b.st = deps.Store
	if b.svc, err = ingest.New(cfg, deps); err != nil {
		b.st.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	b.cancel, b.done = cancel, make(chan error, 1)
	go func() { b.done <- b.svc.Run(runCtx) }()
	select {
	case <-b.svc.Ready():
		return b, nil
	case err := <-b.done:
		b.st.Close()
		return nil, fmt.Errorf("demo: ingest stopped at start: %w", err)
	case <-time.After(20 * time.Second):
		b.stop()
		return nil, fmt.Errorf("demo: ingest did not subscribe within 20s")
	}
}

// stored returns the readings the database holds.
func (b *backendSide) stored() uint64 {
	st, err := b.st.Stats(context.Background())
	if err != nil {
		return 0
	}
	return st.Readings
}

// stop stops the service; it may be called more than once.
func (b *backendSide) stop() {
	if b.cancel == nil {
		return
	}
	b.cancel()
	<-b.done
	b.cancel = nil
}

// outcome is what the database says went wrong, if anything.
type outcome struct {
	rejects map[string]uint64
	missing []store.MissingRange // sequence numbers neither stored nor covered by a gap record
}

// result reads the rejects and the missing sequence numbers from the
// database, then closes it.
func (b *backendSide) result(ctx context.Context) (outcome, error) {
	defer b.st.Close()
	var o outcome
	st, err := b.st.Stats(ctx)
	if err != nil {
		return o, err
	}
	o.rejects = st.Rejects
	ms, err := b.st.Missing(ctx, gatewayID)
	if err != nil {
		return o, err
	}
	for _, m := range ms {
		if m.Cause == store.CauseNotReceived {
			o.missing = append(o.missing, m)
		}
	}
	return o, nil
}
