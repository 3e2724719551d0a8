package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"

	"github.com/edgegw/edgegw/backend/backendtest"
	"github.com/edgegw/edgegw/backend/store/pgtest"
	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/receipt"
	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/modbusmeter"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/sim"
	"github.com/edgegw/edgegw/drivers/sim/meteremu"
	"github.com/edgegw/edgegw/gateway/uplink"
	"github.com/edgegw/edgegw/internal/proctest"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
	"gopkg.in/yaml.v3"
)

// benchBatcher returns a batcher sealing to a fresh x25519 recipient into a
// bbolt buffer with the default 1 s durability window, and a sim meter.
func benchBatcher(b *testing.B, dir string) (*batcher, *buffer.Bolt, drivers.Sensor) {
	b.Helper()
	for _, err := range []error{keys.InitIdentity(dir, "gw-001", false), keys.GenerateRecipient(dir, keys.SuiteX25519, false)} {
		must.NoError(b, err)
	}
	id, err := keys.LoadIdentity(dir)
	must.NoError(b, err)
	rcpt, err := keys.LoadRecipientPublic(filepath.Join(dir, "recipient.pub"))
	must.NoError(b, err)
	store, err := buffer.OpenBolt(filepath.Join(dir, BufferFile), buffer.Options{Durability: time.Second})
	must.NoError(b, err)
	b.Cleanup(func() { store.Close() })
	meter, err := sim.New(drivers.Device{Name: "hh-meter-12", Model: "meter3p"}, drivers.Deps{Now: time.Now})
	must.NoError(b, err)
	return &batcher{
		gatewayID: "gw-001", configVersion: 1, identity: id,
		recipients: map[string]*keys.RecipientPublic{"personal": rcpt},
		store:      store, maxReadings: 100, maxDelay: time.Hour, now: time.Now,
		log: slog.New(slog.DiscardHandler), open: map[string]*openBatch{},
	}, store, meter
}

// BenchmarkPipeline measures the gateway's CPU cost per reading from a
// poll's readings to a signed batch in the bbolt buffer: SenML encoding,
// HPKE sealing, appending with group commit, signing each 100-reading batch.
// It also reports the bytes one reading costs in the envelope and in the
// MQTT PUBLISH packet that carries it.
func BenchmarkPipeline(b *testing.B) {
	bt, store, meter := benchBatcher(b, b.TempDir())
	polls := make([][]reading.Reading, 64)
	for i := range polls {
		rs, err := meter.Read(context.Background())
		must.NoError(b, err)
		polls[i] = rs
	}
	b.ReportAllocs()
	b.ResetTimer()
	readings := 0
	for i := range b.N {
		rs := polls[i%len(polls)]
		must.NoError(b, bt.add(poll{class: "personal", readings: rs}))
		readings += len(rs)
	}
	must.NoError(b, errors.Join(bt.closeAll(), store.Sync()))
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(readings), "µs/reading")
	batches, err := store.Next(0, 1<<20)
	must.NoError(b, err)
	var wire, packets, n int
	topic := "city/gw-001/data/personal"
	for _, x := range batches {
		if x.Readings < 100 {
			continue // the last, partial batch
		}
		w := len(envelope.Marshal(x.Header, x.Chunks, x.Trailer))
		wire += w
		packets += mqttPublishSize(topic, w)
		n += x.Readings
	}
	if n > 0 {
		b.ReportMetric(float64(wire)/float64(n), "envelope-B/reading")
		b.ReportMetric(float64(packets)/float64(n), "mqtt-B/reading")
	}
}

// mqttPublishSize is the size of an MQTT 3.1.1 QoS 1 PUBLISH packet: fixed
// header (1 byte + remaining length), topic (2 + len), packet id (2),
// payload.
func mqttPublishSize(topic string, payload int) int {
	rest := 2 + len(topic) + 2 + payload
	lenBytes := 1
	for l := rest; l >= 128; l /= 128 {
		lenBytes++
	}
	return 1 + lenBytes + rest
}

// startDrainStandIn runs a receipting stand-in on br and returns its key.
func startDrainStandIn(b *testing.B, br *mqtttest.Broker) keys.PublicIdentity {
	dir := filepath.Join(b.TempDir(), "stand-in")
	must.NoError(b, keys.InitIdentity(dir, "ingest-1", false))
	id, err := keys.LoadIdentity(dir)
	must.NoError(b, err)
	mqtttest.StartReceipter(b, br, id, 200*time.Millisecond, func(_ string, payload []byte) (string, uint64, error) {
		env, err := envelope.Parse(payload)
		if err != nil {
			return "", 0, err
		}
		return env.Header.GatewayID, env.Header.Seq, nil
	})
	return id.Public()
}

// drainBacklog is the readings in the buffer when a drain benchmark starts.
const drainBacklog = 1_000_000

// BenchmarkIntegrationDrain measures how fast a backlog of 1,000,000
// readings (10,000 signed, sealed batches of 100 meter readings in bbolt)
// drains to a local Mosquitto over mutual TLS, deleting each batch on PUBACK.
// It reports readings/s and readings per CPU second of this process, which
// runs the uplink and the buffer: the gateway's side.
func BenchmarkIntegrationDrain(b *testing.B) { benchDrain(b, drainPUBACK) }

// BenchmarkIntegrationDrainReceipts is BenchmarkIntegrationDrain with
// receipts: the uplink pins the key of a real ingest (`edgegw ingest run`,
// the binary, default receipt_interval 200ms) that verifies, opens and
// commits every batch into a throwaway PostgreSQL and receipts it, and
// deletes a batch only when a verified receipt covers it (the default
// windows: 100 in flight, 1,000 unreceipted). The drain ends when the buffer
// is empty, so every reading is then in the database, which the benchmark
// checks. It also reports readings per CPU second of the ingest process.
func BenchmarkIntegrationDrainReceipts(b *testing.B) { benchDrain(b, drainRealIngest) }

// BenchmarkIntegrationDrainReceiptsKeepsUp is the drain with receipts to a
// backend that keeps up: a stand-in that takes each envelope's sequence
// number and receipts it every 200 ms, without opening it or a database, so
// that the figure is the gateway's side of the receipt protocol (the
// in-flight and unreceipted windows, receipt verification, deletion).
func BenchmarkIntegrationDrainReceiptsKeepsUp(b *testing.B) { benchDrain(b, drainStandIn) }

// drainBackend is who receipts a drain benchmark's batches.
type drainBackend int

const (
	drainPUBACK     drainBackend = iota // nobody: a PUBACK deletes
	drainRealIngest                     // the real ingest into PostgreSQL
	drainStandIn                        // a stand-in that keeps up
)

func benchDrain(b *testing.B, backend drainBackend) {
	receipts := backend == drainRealIngest
	if testing.Short() {
		b.Skip("integration benchmark")
	}
	var agent []string
	if receipts {
		agent = edgegwCommand(b)
	}
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		bt, store, meter := benchBatcher(b, dir)
		rs, err := meter.Read(context.Background())
		must.NoError(b, err)
		for n := 0; n < drainBacklog; n += len(rs) {
			must.NoError(b, bt.add(poll{class: "personal", readings: rs}))
		}
		must.NoError(b, errors.Join(bt.closeAll(), store.Sync()))
		total := store.Stats().Readings
		br := mqtttest.Start(b, mqtttest.Options{})
		cert, key := br.Client(b, "gw-001")
		cfg := uplink.Config{Broker: br.URL, CA: br.CAFile, Cert: cert, Key: key, TopicPrefix: "city", GatewayID: "gw-001", HealthInterval: -1}
		var ing *drainIngest
		if receipts {
			ing = startDrainIngest(b, agent, br, dir)
			cfg.Receipts = []keys.PublicIdentity{ing.signer}
		}
		if backend == drainStandIn {
			cfg.Receipts = []keys.PublicIdentity{startDrainStandIn(b, br)}
		}
		up, err := uplink.New(cfg, store, uplink.Deps{Marshal: func(x buffer.Batch) []byte { return envelope.Marshal(x.Header, x.Chunks, x.Trailer) }})
		must.NoError(b, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		var ingestCPU0 time.Duration
		if ing != nil {
			ingestCPU0 = proctest.CPU(b, ing.cmd.Process.Pid)
		}
		cpu0 := proctest.SelfCPU(b)
		b.StartTimer()
		start := time.Now()
		go func() { done <- up.Run(ctx) }()
		tick := time.NewTicker(10 * time.Millisecond)
		for store.Stats().Batches > 0 {
			<-tick.C
		}
		elapsed := time.Since(start)
		b.StopTimer()
		cpu := proctest.SelfCPU(b) - cpu0
		tick.Stop()
		cancel()
		must.NoError(b, <-done)
		b.ReportMetric(float64(total)/elapsed.Seconds(), "readings/s")
		b.ReportMetric(float64(total)/cpu.Seconds(), "readings/gateway-cpu-s")
		if ing != nil {
			ingestCPU := proctest.CPU(b, ing.cmd.Process.Pid) - ingestCPU0
			b.ReportMetric(float64(total)/ingestCPU.Seconds(), "readings/ingest-cpu-s")
			// The probe's one reading and the backlog.
			if got := ing.readings(b); got != total+1 {
				b.Fatalf("the database holds %d readings, want %d", got, total+1)
			}
			ing.stop(b)
		}
	}
}

// drainIngest is `edgegw ingest run` on a throwaway PostgreSQL, trusting
// gw-001 (the benchBatcher's keys) and a probe gateway.
type drainIngest struct {
	cmd     *exec.Cmd
	agent   []string
	cfgPath string
	signer  keys.PublicIdentity
}

// startDrainIngest migrates a new PostgreSQL database, starts the ingest
// and returns once it has receipted a probe gateway's batch: it is
// subscribed and its database ready.
func startDrainIngest(b *testing.B, agent []string, br *mqtttest.Broker, gwDir string) *drainIngest {
	b.Helper()
	dir := b.TempDir()
	idDir := filepath.Join(dir, "identity")
	must.NoError(b, keys.InitIdentity(idDir, "ingest-1", false))
	id, err := keys.LoadIdentity(idDir)
	must.NoError(b, err)
	probe := backendtest.NewGateway(b, "gw-probe")
	cert, key := br.Client(b, br.Ingest)
	ing := &drainIngest{agent: agent, cfgPath: filepath.Join(dir, "ingest.yaml"), signer: id.Public()}
	cfg := fmt.Sprintf(`broker: %s
ca: %s
cert: %s
key: %s
client_id: ingest-1
identity: %s
trust: [%s, %s]
recipient_keys: [%s, %s]
database: %q
`, br.URL, br.CAFile, cert, key, idDir, filepath.Join(gwDir, keys.IdentityPubFile), filepath.Join(probe.Dir, keys.IdentityPubFile),
		filepath.Join(gwDir, keys.RecipientKeyFile), filepath.Join(probe.Dir, keys.RecipientKeyFile), pgtest.Start(b).DSN)
	must.NoError(b, os.WriteFile(ing.cfgPath, []byte(cfg), 0o600))
	if out, err := ing.command("migrate").CombinedOutput(); err != nil {
		b.Fatalf("edgegw ingest migrate: %v\n%s", err, out)
	}
	ing.cmd = ing.command("run")
	proctest.Start(b, ing.cmd, proctest.ChildLog(b, filepath.Join(dir, "ingest.log"), "ingest log", 0))
	ing.probe(b, br, probe)
	return ing
}

// command returns `edgegw ingest <sub> --config ...`.
func (ing *drainIngest) command(sub string, args ...string) *exec.Cmd {
	return exec.Command(ing.agent[0], slices.Concat(ing.agent[1:], []string{"ingest", sub, "--config", ing.cfgPath}, args)...)
}

// probe publishes the probe gateway's batch, again every 200 ms, until a
// verified receipt covers it.
func (ing *drainIngest) probe(b *testing.B, br *mqtttest.Broker, gw *backendtest.Gateway) {
	b.Helper()
	cert, key := br.Client(b, gw.ID.ID)
	var receipted atomic.Bool
	c, err := mqtt.Dial(context.Background(), mqtt.SubscribeConfig{
		Broker: br.URL, CA: br.CAFile, Cert: cert, Key: key, ClientID: gw.ID.ID, CleanSession: true,
		Topics: []string{"city/" + gw.ID.ID + "/receipt"},
	}, func(_ string, payload []byte) {
		if r, err := receipt.Verify(payload, gw.ID.ID, []keys.PublicIdentity{ing.signer}); err == nil && r.Covers(1) {
			receipted.Store(true)
		}
	})
	must.NoError(b, err)
	defer c.Close()
	env := gw.Batch(1, 1)
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !receipted.Load() {
		if time.Now().After(deadline) {
			b.Fatal("no receipt for the probe batch within a minute: the ingest did not start")
		}
		if c.Connected() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := c.Publish(ctx, "city/"+gw.ID.ID+"/data/telemetry", env, false)
			cancel()
			must.NoError(b, err)
		}
		<-tick.C
	}
}

// readings returns the readings in the database (edgegw ingest status).
func (ing *drainIngest) readings(b *testing.B) int64 {
	b.Helper()
	out, err := ing.command("status", "--json").Output()
	if err != nil {
		b.Fatalf("edgegw ingest status: %v", err)
	}
	var st struct {
		Readings int64 `json:"readings"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		b.Fatalf("edgegw ingest status: %v: %s", err, out)
	}
	return st.Readings
}

// stop stops the ingest with SIGTERM and requires a clean exit.
func (ing *drainIngest) stop(b *testing.B) {
	b.Helper()
	ing.cmd.Process.Signal(syscall.SIGTERM)
	if err := ing.cmd.Wait(); err != nil {
		b.Fatalf("edgegw ingest run: %v", err)
	}
}

// BenchmarkIntegrationFootprint runs the gateway's build of edgegw (tag
// nobackend: what a box runs, with the emulators for its devices) with 5
// simulated devices (about 50 readings/s) against a local Mosquitto, and
// reports its resident memory (VmHWM, the peak, and at the end the part
// that is the binary's pages, shared with the page cache, and the part
// that is the process's own) and CPU use over the steady state:
// EDGEGW_FOOTPRINT long (20s unless set; make bench runs 10m).
func BenchmarkIntegrationFootprint(b *testing.B) {
	// 5 devices: 3 × 8 + 2 × 12 channels at 1 s = 48 readings/s.
	steadyRun(b, []string{"nobackend"}, 48, `devices:
  - {name: aq-1, driver: sim, model: airquality, interval: 1s, class: telemetry}
  - {name: aq-2, driver: sim, model: airquality, interval: 1s, class: telemetry}
  - {name: aq-3, driver: sim, model: airquality, interval: 1s, class: telemetry}
  - {name: m-1, driver: sim, model: meter3p, interval: 1s, class: telemetry}
  - {name: m-2, driver: sim, model: meter3p, interval: 1s, class: telemetry}
`)
}

// BenchmarkIntegrationMeterCPU is the work users compare with Telegraf's
// modbus input: the production build (tag nodemo) polls the 14 values
// Telegraf's comparison reads from one SDM630 (telegrafPoints) every second
// over Modbus RTU at 9600 8N1 (an emulated meter on a pseudo-terminal,
// served by this process) and forwards them to a local Mosquitto. It
// reports the agent's CPU and memory like BenchmarkIntegrationFootprint.
func BenchmarkIntegrationMeterCPU(b *testing.B) {
	meter, err := meteremu.Start(meteremu.Config{Units: []meteremu.Unit{{ID: 1, Profile: "sdm630"}}, Baud: 9600, Parity: "N", StopBits: 1})
	must.NoError(b, err)
	b.Cleanup(func() { meter.Close() })
	profile := filepath.Join(b.TempDir(), "sdm630-14.yaml")
	n := writeSubProfile(b, profile, "sdm630", telegrafPoints)
	steadyRun(b, []string{"nodemo"}, float64(n), fmt.Sprintf(`devices:
  - {name: meter-1, driver: modbusmeter, interval: 1s, class: telemetry, options: {port: %s, unit: 1, profile: %s}}
`, meter.Path(), profile))
}

// telegrafPoints are the SDM630 values of the Telegraf configuration edgegw
// is compared with: voltage, current and active power of each phase, total
// active power, power factor, frequency, imported and exported energy.
var telegrafPoints = []string{"v1", "v2", "v3", "i1", "i2", "i3", "p1", "p2", "p3", "p", "pf", "f", "ei", "ex"}

// writeSubProfile writes to path the shipped profile name with only the
// points named, as a user's own profile file, and returns its channels.
func writeSubProfile(b *testing.B, path, name string, points []string) int {
	b.Helper()
	p, err := modbusmeter.LoadProfile(name)
	must.NoError(b, err)
	sub := *p
	sub.Name, sub.Points = name+"-sub", nil
	for _, pt := range p.Points {
		if slices.Contains(points, pt.Name) {
			sub.Points = append(sub.Points, pt)
		}
	}
	data, err := yaml.Marshal(&sub)
	must.NoError(b, err)
	must.NoError(b, os.WriteFile(path, data, 0o600))
	loaded, err := modbusmeter.LoadProfile(path)
	must.NoError(b, err)
	if n := len(loaded.Channels(0)); n != len(points) {
		b.Fatalf("profile %s has %d channels, want %d", path, n, len(points))
	}
	return len(points)
}

// steadyRun runs edgegw, built with tags, with the devices of rest for
// EDGEGW_FOOTPRINT (20s unless set) after a 5 s warm-up, with the
// environment the installed unit gives it, and reports its peak and final
// memory and its CPU use; perSecond is the readings it reads a second.
func steadyRun(b *testing.B, tags []string, perSecond float64, rest string) {
	if testing.Short() {
		b.Skip("integration benchmark")
	}
	steady := 20 * time.Second
	if v := os.Getenv("EDGEGW_FOOTPRINT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("EDGEGW_FOOTPRINT: %v", err)
		}
		steady = d
	}
	agent := edgegwCommand(b, tags...)
	env := unitEnvironment(b)
	for range b.N {
		b.StopTimer()
		gw := newBenchGateway(b, rest)
		gw.env = env
		cmd := gw.start(b, agent)
		// Warm up: the first batches are closed and published.
		<-time.After(5 * time.Second)
		b.StartTimer()
		cpu0 := proctest.CPU(b, cmd.Process.Pid)
		start := time.Now()
		<-time.After(steady)
		cpu1 := proctest.CPU(b, cmd.Process.Pid)
		elapsed := time.Since(start)
		b.StopTimer()
		hwm := statusKB(b, cmd.Process.Pid, "VmHWM:")
		anon, file := statusKB(b, cmd.Process.Pid, "RssAnon:"), statusKB(b, cmd.Process.Pid, "RssFile:")
		stopAgent(b, cmd)
		b.ReportMetric(float64(hwm)/1024, "RSS-MB")
		b.ReportMetric(float64(anon)/1024, "anon-MB")
		b.ReportMetric(float64(file)/1024, "file-MB")
		b.ReportMetric(100*(cpu1-cpu0).Seconds()/elapsed.Seconds(), "CPU-%")
		b.ReportMetric(perSecond, "readings/s")
	}
}

// unitEnvironment returns the variables the installed systemd unit
// (scripts/edgegw.service) sets for the agent with Environment= lines.
func unitEnvironment(b *testing.B) []string {
	b.Helper()
	data, err := os.ReadFile("../scripts/edgegw.service")
	must.NoError(b, err)
	var env []string
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Environment="); ok {
			env = append(env, strings.Fields(v)...)
		}
	}
	return env
}

// BenchmarkIntegrationStartup measures the wall time from starting the real
// edgegw binary, with an empty buffer, to the first envelope a backend
// subscribed beforehand receives from a local Mosquitto, and reports the
// median over b.N runs as startup-ms. It covers loading the configuration
// and keys, opening the buffer, the TLS connection, the first poll of a sim
// device (every 100ms, on the wall-clock grid), closing its batch after
// batch.max_delay (100ms), committing it (durability 0: at once) and
// publishing it. Run it with EDGEGW_BENCH_CMD to measure another build,
// such as the arm64 one under qemu-user.
func BenchmarkIntegrationStartup(b *testing.B) {
	if testing.Short() {
		b.Skip("integration benchmark")
	}
	const timeout = time.Minute // to the first envelope, generous for qemu-user
	agent := edgegwCommand(b)
	var runs []time.Duration
	for range b.N {
		b.StopTimer()
		gw := newBenchGateway(b, `batch: {max_delay: 100ms, durability: 0s}
devices:
  - {name: aq-1, driver: sim, model: airquality, interval: 100ms, class: telemetry}
`)
		first := gw.firstEnvelope(b)
		b.StartTimer()
		start := time.Now()
		cmd := gw.start(b, agent)
		select {
		case at := <-first:
			runs = append(runs, at.Sub(start))
		case <-time.After(timeout):
			b.Fatalf("no envelope within %v of starting edgegw", timeout)
		}
		b.StopTimer()
		stopAgent(b, cmd)
	}
	slices.Sort(runs)
	b.ReportMetric(float64(runs[len(runs)/2].Microseconds())/1e3, "startup-ms")
}

// benchGateway is a gateway for benchmarks of the real edgegw binary: a
// local Mosquitto, the gateway's identity and client certificate, a
// telemetry recipient, and a configuration file, all in temp dirs.
type benchGateway struct {
	dir, cfgPath string
	br           *mqtttest.Broker
	env          []string // added to the agent's environment
	starts       int      // agents started, each with its own log
}

// newBenchGateway starts a Mosquitto, creates the gateway's keys and writes
// a configuration of the gateway, uplink, recipient, log and control
// sections followed by rest (YAML: devices, and batch if not the default).
// The buffer starts empty.
func newBenchGateway(b *testing.B, rest string) *benchGateway {
	b.Helper()
	gw := &benchGateway{dir: b.TempDir()}
	gw.br = mqtttest.Start(b, mqtttest.Options{})
	cert, key := gw.br.Client(b, "gw-001")
	for _, err := range []error{keys.InitIdentity(gw.dir, "gw-001", false), keys.GenerateRecipient(gw.dir, keys.SuiteX25519, false)} {
		must.NoError(b, err)
	}
	cfg := fmt.Sprintf(`gateway: {id: gw-001, keys: %[1]s, state: %[1]s}
uplink: {broker: %q, ca: %s, cert: %s, key: %s}
recipients: {telemetry: %[1]s/recipient.pub}
log: {level: warn}
control: {socket: %[1]s/control.sock}
`, gw.dir, gw.br.URL, gw.br.CAFile, cert, key) + rest
	gw.cfgPath = filepath.Join(gw.dir, "edgegw.yaml")
	must.NoError(b, os.WriteFile(gw.cfgPath, []byte(cfg), 0o600))
	return gw
}

// firstEnvelope subscribes a backend to the gateway's data topics and
// returns once the subscription is in place; the channel receives the time
// the first envelope arrived. The subscription ends with the benchmark.
func (gw *benchGateway) firstEnvelope(b *testing.B) <-chan time.Time {
	b.Helper()
	cert, key := gw.br.Client(b, gw.br.Backend)
	first := make(chan time.Time, 1)
	ready := make(chan struct{})
	var gotFirst, subscribed sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- mqtt.Subscribe(ctx, mqtt.SubscribeConfig{
			Broker: gw.br.URL, CA: gw.br.CAFile, Cert: cert, Key: key,
			ClientID: "bench-backend", CleanSession: true, Topics: []string{"city/gw-001/data/#"},
			OnSubscribe: func() { subscribed.Do(func() { close(ready) }) },
		}, func(_ string, payload []byte) {
			if _, err := envelope.Parse(payload); err == nil {
				gotFirst.Do(func() { first <- time.Now() })
			}
		})
	}()
	b.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case err := <-done:
		b.Fatalf("backend subscription ended: %v", err)
	case <-time.After(30 * time.Second):
		b.Fatal("backend subscription not established within 30s")
	}
	return first
}

// start starts `edgegw run` on the gateway's configuration, with the
// agent's log in the gateway's dir, printed if the benchmark fails (on the
// benchmark's stderr it would split the result lines that scripts/bench.sh
// reads). The agent is killed when the benchmark ends if stopAgent did not
// stop it.
func (gw *benchGateway) start(b *testing.B, agent []string) *exec.Cmd {
	b.Helper()
	gw.starts++
	log := proctest.ChildLog(b, filepath.Join(gw.dir, fmt.Sprintf("edgegw-%d.log", gw.starts)), "edgegw log", 0)
	cmd := exec.Command(agent[0], append(agent[1:], "run", "--config", gw.cfgPath)...)
	cmd.Env = append(os.Environ(), gw.env...)
	proctest.Start(b, cmd, log)
	return cmd
}

// stopAgent stops the agent with SIGINT and requires a clean exit.
func stopAgent(b *testing.B, cmd *exec.Cmd) {
	b.Helper()
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		b.Fatalf("edgegw run: %v", err)
	}
}

// edgegwCommand returns the command that runs edgegw in the integration
// benchmarks: the words of $EDGEGW_BENCH_CMD when set (an absolute path of
// a binary, optionally after an emulator, such as "qemu-aarch64-static
// /src/dist/edgegw-linux-arm64"), otherwise a static, stripped build of
// ./cmd/edgegw with the build tags given. Under an emulator, the footprint benchmark measures the
// emulator's process.
func edgegwCommand(b *testing.B, tags ...string) []string {
	b.Helper()
	if cmd := strings.Fields(os.Getenv("EDGEGW_BENCH_CMD")); len(cmd) > 0 {
		return cmd
	}
	bin := filepath.Join(b.TempDir(), "edgegw")
	build := exec.Command("go", "build", "-trimpath", "-tags", strings.Join(tags, ","), "-ldflags", "-s -w", "-o", bin, "../cmd/edgegw")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return []string{bin}
}

// statusKB returns a kB field of /proc/pid/status.
func statusKB(b *testing.B, pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must.NoError(b, err)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, field) {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb
		}
	}
	b.Fatalf("%s not in /proc/%d/status", field, pid)
	return 0
}
