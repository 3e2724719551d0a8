package gateway_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to count rows

	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/backend/store/pgtest"
	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/internal/poll"
	"github.com/edgegw/edgegw/internal/proctest"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// delivery is a test bed whose gateway pins an ingest key, and the ingest
// processes (the real binary) that store what it sends in one database and
// receipt it. Delivered means in that database.
type delivery struct {
	*bed
	t     *testing.T
	bin   string
	dsn   string
	idDir string // the ingest's identity
	logf  *os.File
	procs map[string]*exec.Cmd // running ingest replicas by client id
	agent *exec.Cmd
}

// receiptTimeout is short so that the tests see republishing quickly.
const receiptTimeout = 2 * time.Second

func newDelivery(t *testing.T, o bedOptions, dsn string) *delivery {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	idDir := filepath.Join(t.TempDir(), "ingest-identity")
	must.NoError(t, keys.InitIdentity(idDir, "ingest-1", false))
	o.uplink += fmt.Sprintf(", receipts: [%s], receipt_timeout: %s", filepath.Join(idDir, keys.IdentityPubFile), receiptTimeout)
	d := &delivery{bed: newBed(t, o), t: t, bin: proctest.Edgegw(t), dsn: dsn, idDir: idDir, procs: map[string]*exec.Cmd{}}
	d.logf = proctest.ChildLog(t, filepath.Join(d.dir, "processes.log"), "agent and ingest logs", 0)
	t.Cleanup(func() {
		for id := range d.procs {
			d.kill(id)
		}
		if d.agent != nil {
			d.agent.Process.Kill()
			d.agent.Wait()
		}
	})
	if out, err := exec.Command(d.bin, "ingest", "migrate", "--config", d.ingestConfig("migrate")).CombinedOutput(); err != nil {
		t.Fatalf("ingest migrate: %v\n%s", err, out)
	}
	return d
}

// ingestConfig writes the configuration of replica clientID.
func (d *delivery) ingestConfig(clientID string) string {
	cert, key := d.br.Client(d.t, d.br.Ingest)
	path := filepath.Join(d.dir, "ingest-"+clientID+".yaml")
	must.NoError(d.t, os.WriteFile(path, []byte(fmt.Sprintf(`broker: %s
ca: %s
cert: %s
key: %s
client_id: %s
identity: %s
trust: [%s]
recipient_keys: [%s, %s]
database: %q
receipt_interval: 100ms
`, d.br.URL, d.br.CAFile, cert, key, clientID, d.idDir, filepath.Join(d.dir, "keys", keys.IdentityPubFile),
		filepath.Join(d.dir, "recipient-telemetry", "recipient.key"), filepath.Join(d.dir, "recipient-personal", "recipient.key"), d.dsn)), 0o600))
	return path
}

// startIngest starts replica clientID.
func (d *delivery) startIngest(clientID string) {
	d.t.Helper()
	cmd := exec.Command(d.bin, "ingest", "run", "--config", d.ingestConfig(clientID))
	cmd.Stdout, cmd.Stderr = d.logf, d.logf
	must.NoError(d.t, cmd.Start())
	d.procs[clientID] = cmd
}

// kill kills replica clientID with SIGKILL.
func (d *delivery) kill(clientID string) {
	if cmd := d.procs[clientID]; cmd != nil {
		cmd.Process.Kill()
		cmd.Wait()
		delete(d.procs, clientID)
	}
}

// stopIngest stops replica clientID with SIGTERM, as systemd does.
func (d *delivery) stopIngest(clientID string) {
	d.t.Helper()
	if cmd := d.procs[clientID]; cmd != nil {
		must.NoError(d.t, cmd.Process.Signal(syscall.SIGTERM))
		must.NoError(d.t, cmd.Wait())
		delete(d.procs, clientID)
	}
}

// startAgent runs the agent binary.
func (d *delivery) startAgent() {
	d.t.Helper()
	d.agent = exec.Command(d.bin, "run", "--config", d.cfgPath, "--drain", "60s")
	d.agent.Stdout, d.agent.Stderr = d.logf, d.logf
	must.NoError(d.t, d.agent.Start())
}

// stopAgent stops the agent gracefully: it closes its open batches and
// waits for their receipts.
func (d *delivery) stopAgent() {
	d.t.Helper()
	must.NoError(d.t, d.agent.Process.Signal(syscall.SIGTERM))
	must.NoError(d.t, d.agent.Wait())
	d.agent = nil
}

// stats reads the database's counters.
func (d *delivery) stats() store.Stats {
	d.t.Helper()
	db, err := store.Open(context.Background(), d.dsn)
	must.NoError(d.t, err)
	defer db.Close()
	st, err := db.Stats(context.Background())
	must.NoError(d.t, err)
	return st
}

// delivered waits until the database holds every reading the devices
// produced and every sequence number up to the highest is stored or covered
// by a gap record, then checks that nothing was rejected.
func (d *delivery) delivered(timeout time.Duration, extra uint64) store.Stats {
	d.t.Helper()
	want := uint64(produced(d.traces(d.t))) + extra
	var st store.Stats
	poll.Until(d.t, timeout, fmt.Sprintf("%d readings in the database", want), func() bool {
		st = d.stats()
		return st.Readings >= want
	})
	db, err := store.Open(context.Background(), d.dsn)
	must.NoError(d.t, err)
	defer db.Close()
	missing, err := db.Missing(context.Background(), "gw-001")
	must.NoError(d.t, err)
	for _, m := range missing {
		if m.Cause == store.CauseNotReceived {
			d.t.Errorf("sequence numbers %d..%d neither stored nor covered by a gap record", m.From, m.To)
		}
	}
	if st.Readings != want || st.GapRecords != 0 || len(st.Rejects) > 0 {
		d.t.Errorf("database holds %d readings, want %d; gap records %d, rejects %v", st.Readings, want, st.GapRecords, st.Rejects)
	}
	return st
}

// TestIntegrationDeliveredBrokerKilled: the backend is down while the
// gateway publishes, the broker (Debian's autosave_interval 1800) is killed
// with -9, losing every message it had acknowledged and queued; broker and
// ingest come back and every reading is in the database, because the
// gateway kept each batch until a receipt covered it.
func TestIntegrationDeliveredBrokerKilled(t *testing.T) {
	d := newDelivery(t, bedOptions{durability: 200 * time.Millisecond, maxDelay: 300 * time.Millisecond, maxBytes: "64MiB", maxReadings: 100},
		"sqlite:"+filepath.Join(t.TempDir(), "ingest.db"))
	d.startIngest("ingest-a")
	d.startAgent()
	poll.Until(t, 30*time.Second, "first readings in the database", func() bool { return d.stats().Readings > 0 })
	d.stopIngest("ingest-a")
	before := d.stats().Batches
	<-time.After(3 * time.Second) // the gateway publishes into a broker nobody reads: the fault's duration
	d.br.Kill()
	d.br.Restart()
	d.startIngest("ingest-a")
	d.stopAgent()
	st := d.delivered(60*time.Second, 0)
	if st.Batches <= before {
		t.Errorf("no batch stored after the broker was killed (%d before, %d after)", before, st.Batches)
	}
}

// TestIntegrationDeliveredSmallBrokerQueue: a backlog of 300,000 readings
// drains into a broker that queues at most 100 messages per client: the
// broker drops what it acknowledged, the gateway publishes again what no
// receipt covered, and every reading is in the database.
func TestIntegrationDeliveredSmallBrokerQueue(t *testing.T) {
	d := newDelivery(t, bedOptions{durability: 200 * time.Millisecond, maxDelay: 300 * time.Millisecond, maxBytes: "256MiB", maxReadings: 100,
		broker: mqtttest.Options{MaxQueued: 100}}, "sqlite:"+filepath.Join(t.TempDir(), "ingest.db"))
	const backlog = 300_000
	d.fillBacklog(backlog)
	d.startIngest("ingest-a")
	d.startAgent()
	poll.Until(t, 3*time.Minute, "the backlog in the database", func() bool { return d.stats().Readings >= backlog })
	d.stopAgent()
	st := d.delivered(60*time.Second, backlog)
	t.Logf("stored %d readings in %d batches", st.Readings, st.Batches)
	// Mosquitto says when it drops what it acknowledged. Whether the limit
	// is reached depends on how fast the ingest takes messages on this
	// machine, so it is reported, not required.
	log, err := os.ReadFile(filepath.Join(d.br.Dir, "mosquitto.log"))
	must.NoError(t, err)
	t.Logf("the broker dropped messages past its queue limit: %v", bytes.Contains(log, []byte("dropped")))
}

// TestIntegrationDeliveredReplicasKilled: two ingest replicas share one
// subscription into PostgreSQL and one of them is killed with -9 every two
// seconds: no reading is lost and no row is stored twice.
func TestIntegrationDeliveredReplicasKilled(t *testing.T) {
	pg, d := startPostgresDelivery(t, "ingest-a", "ingest-b")
	for i := range 8 {
		id := []string{"ingest-a", "ingest-b"}[i%2]
		d.kill(id)
		d.startIngest(id)
		<-time.After(2 * time.Second) // the kill schedule, not a wait for a condition
	}
	d.stopAgent()
	d.delivered(90*time.Second, 0)
	db, err := sql.Open("pgx", pg.DSN)
	must.NoError(t, err)
	defer db.Close()
	var rows, dups int
	must.NoError(t, db.QueryRow(`SELECT count(*) FROM readings`).Scan(&rows))
	must.NoError(t, db.QueryRow(`SELECT count(*) FROM (SELECT 1 FROM readings GROUP BY gateway, seq, device, channel, time HAVING count(*) > 1) d`).Scan(&dups))
	if want := produced(d.traces(t)); rows != want || dups != 0 {
		t.Errorf("%d reading rows, want %d; %d stored more than once", rows, want, dups)
	}
}

// TestIntegrationDeliveredDatabaseDown: PostgreSQL stops for 30 s under
// load and starts again: the ingest retries its commits, the gateway keeps
// and publishes again what no receipt covered, and nothing is lost.
func TestIntegrationDeliveredDatabaseDown(t *testing.T) {
	pg, d := startPostgresDelivery(t, "ingest-a")
	pg.Stop()
	<-time.After(30 * time.Second) // the outage's duration
	pg.Start()
	d.stopAgent()
	d.delivered(90*time.Second, 0)
}

// startPostgresDelivery starts a throwaway PostgreSQL, the ingest replicas
// named and the agent, and returns once readings are in the database.
func startPostgresDelivery(t *testing.T, replicas ...string) (*pgtest.Cluster, *delivery) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	pg := pgtest.Start(t)
	d := newDelivery(t, bedOptions{durability: 200 * time.Millisecond, maxDelay: 300 * time.Millisecond, maxBytes: "64MiB", maxReadings: 100}, pg.DSN)
	for _, id := range replicas {
		d.startIngest(id)
	}
	d.startAgent()
	poll.Until(t, 30*time.Second, "first readings in the database", func() bool { return d.stats().Readings > 0 })
	return pg, d
}

// fillBacklog stores n readings as closed, signed and sealed batches of 100
// meter readings in the gateway's buffer before the agent starts, as a long
// outage would leave it.
func (d *delivery) fillBacklog(n int) {
	d.t.Helper()
	state := filepath.Join(d.dir, "state")
	must.NoError(d.t, os.MkdirAll(state, 0o700))
	st, err := buffer.OpenBolt(filepath.Join(state, gateway.BufferFile), buffer.Options{Durability: time.Second})
	must.NoError(d.t, err)
	id, err := keys.LoadIdentity(filepath.Join(d.dir, "keys"))
	must.NoError(d.t, err)
	rp, err := keys.LoadRecipientPublic(filepath.Join(d.dir, "recipient-personal", "recipient.pub"))
	must.NoError(d.t, err)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	rs := make([]reading.Reading, 100)
	for done := 0; done < n; done += len(rs) {
		b, err := envelope.NewBatch(rp, "gw-001", "personal", 1, at)
		must.NoError(d.t, err)
		for i := range rs {
			rs[i] = reading.Reading{Device: "backlog", Channel: "e", Value: float64(done + i), Unit: reading.KWh, Time: at.Add(time.Duration(done+i) * time.Millisecond)}
		}
		_, err = st.Put(func(seq uint64) (buffer.Batch, error) {
			h, err := b.Header(seq)
			if err != nil {
				return buffer.Batch{}, err
			}
			chunk, err := b.Seal(rs)
			if err != nil {
				return buffer.Batch{}, err
			}
			tr, err := envelope.Sign(id, h, [][]byte{chunk})
			return buffer.Batch{Seq: seq, Class: "personal", Header: h, Chunks: [][]byte{chunk}, Trailer: tr, Readings: len(rs), Created: at}, err
		})
		must.NoError(d.t, err)
	}
	must.NoError(d.t, st.Close())
}
