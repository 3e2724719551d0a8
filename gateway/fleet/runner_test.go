package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/crypto/confsig"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	_ "github.com/edgegw/edgegw/drivers/sim"
	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/gateway/fleet"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/poll"
	"github.com/edgegw/edgegw/internal/proctest"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// box is a gateway under fleet control with a real broker and an ops key.
type box struct {
	dir, path  string
	br         *mqtttest.Broker
	ops        *confsig.OpsKey
	cert, key  string
	opsCert    string
	opsKeyFile string
	rcpt       string

	// wrap, when set, turns the agent's command line into the one started
	// (to run it in a private mount namespace).
	wrap func(args []string) []string

	mu     sync.Mutex
	status fleet.Status
}

// configYAML is the gateway's configuration at version v with the sim
// device polled every interval, on broker.
func (b *box) configYAML(v uint64, interval, broker string) []byte {
	return fmt.Appendf(nil, `version: %d
gateway: {id: gw-001, keys: %[2]s/keys, state: %[2]s/state}
uplink: {broker: %[3]q, ca: %[4]s, cert: %[5]s, key: %[6]s, backoff_min: 100ms, backoff_max: 500ms}
recipients: {telemetry: %[7]s}
batch: {max_delay: 300ms, durability: 100ms}
control: {socket: "off"}
fleet: {trust: %[2]s/ops/ops.pub, probation: 10s}
devices:
  - {name: aq-1, driver: sim, model: airquality, interval: %[8]s, class: telemetry}
`, v, b.dir, broker, b.br.CAFile, b.cert, b.key, b.rcpt, interval)
}

func newBox(t *testing.T) *box {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	b := &box{dir: t.TempDir(), br: mqtttest.Start(t, mqtttest.Options{})}
	b.cert, b.key = b.br.Client(t, "gw-001")
	b.opsCert, b.opsKeyFile = b.br.Client(t, b.br.Ops)
	must.NoError(t, keys.InitIdentity(filepath.Join(b.dir, "keys"), "gw-001", false))
	must.NoError(t, keys.GenerateRecipient(filepath.Join(b.dir, "r"), keys.SuiteX25519, false))
	b.rcpt = filepath.Join(b.dir, "r", "recipient.pub")
	must.NoError(t, confsig.InitOps(filepath.Join(b.dir, "ops"), false))
	var err error
	b.ops, err = confsig.LoadOpsKey(filepath.Join(b.dir, "ops", "ops.key"))
	must.NoError(t, err)
	b.path = filepath.Join(b.dir, "edgegw.yaml")
	must.NoError(t, os.WriteFile(b.path, b.configYAML(1, "200ms", b.br.URL), 0o600))
	return b
}

// watch follows the gateway's retained config status.
func (b *box) watch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- mqtt.Subscribe(ctx, mqtt.SubscribeConfig{Broker: b.br.URL, CA: b.br.CAFile, Cert: b.opsCert, Key: b.opsKeyFile,
			ClientID: "ops-status", CleanSession: true, Topics: []string{"city/gw-001/config/status"}},
			func(_ string, payload []byte) {
				var st fleet.Status
				if json.Unmarshal(payload, &st) == nil {
					b.mu.Lock()
					b.status = st
					b.mu.Unlock()
				}
			})
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// backend opens every batch the gateway publishes; audits returns the
// audit records received.
func (b *box) backend(t *testing.T) (recv *backend.Receiver, audits func() []string) {
	id, err := keys.LoadIdentity(filepath.Join(b.dir, "keys"))
	must.NoError(t, err)
	rk, err := keys.LoadRecipientPrivate(filepath.Join(b.dir, "r", "recipient.key"))
	must.NoError(t, err)
	recv = backend.NewReceiver(envelope.NewTrust(id.Public()), rk)
	var mu sync.Mutex
	var got []string
	audits = func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
	cert, key := b.br.Client(t, b.br.Backend)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{}, 1)
	go func() {
		done <- mqtt.Subscribe(ctx, mqtt.SubscribeConfig{Broker: b.br.URL, CA: b.br.CAFile, Cert: cert, Key: key, ClientID: "backend",
			Topics: []string{"city/+/data/#", "city/+/audit"}, OnSubscribe: func() {
				select {
				case ready <- struct{}{}:
				default:
				}
			}},
			func(topic string, payload []byte) {
				if res, err := recv.Handle(topic, payload); err == nil && res.Audit != nil {
					mu.Lock()
					got = append(got, string(res.Audit))
					mu.Unlock()
				}
			})
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-ready
	return recv, audits
}

func (b *box) current() fleet.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status
}

// otherOpsKey writes a new ops key the gateway does not trust (yet).
func (b *box) otherOpsKey(t *testing.T) string {
	dir := t.TempDir()
	must.NoError(t, confsig.InitOps(dir, false))
	return filepath.Join(dir, "ops.key")
}

// starter builds edgegw once per test binary and returns a function that
// starts `edgegw run` on the box's configuration as a child process, killed
// when the test ends; its log is shown if the test fails.
func (b *box) starter(t *testing.T) func() *exec.Cmd {
	t.Helper()
	binPath := proctest.Edgegw(t)
	logf := proctest.ChildLog(t, filepath.Join(b.dir, "agent.log"), "agent log", 0)
	return func() *exec.Cmd {
		args := []string{binPath, "run", "--config", b.path, "--drain", "1s"}
		if b.wrap != nil {
			args = b.wrap(args)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = logf, logf
		must.NoError(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
}

// push signs config version v and publishes it retained on config/set.
func (b *box) push(t *testing.T, v uint64, yaml []byte) {
	t.Helper()
	doc, err := confsig.Sign(b.ops, v, confsig.ForGateway("gw-001"), time.Time{}, time.Time{}, yaml)
	must.NoError(t, err)
	b.publish(t, doc)
}

func (b *box) publish(t *testing.T, doc []byte) {
	t.Helper()
	errs, err := mqtt.PublishRetained(context.Background(), mqtt.ClientConfig{Broker: b.br.URL, CA: b.br.CAFile, Cert: b.opsCert, Key: b.opsKeyFile},
		[]mqtt.Message{{Topic: "city/gw-001/config/set", Payload: doc}})
	must.NoError(t, err)
	must.NoError(t, errs[0])
}

// running returns the version of the configuration the gateway runs (or
// runs at its next start): the applied one or the operator's file.
func (b *box) running(t *testing.T) uint64 {
	t.Helper()
	src, err := fleet.Resolve(b.path)
	must.NoError(t, err)
	return src.Config.Version
}

// TestIntegrationFleetApplyRejectRollback: a signed configuration pushed
// over the real broker is applied live and committed; a replayed older one
// is rejected; one whose uplink cannot connect is rolled back by itself
// after probation, and the gateway reports why over its old uplink.
func TestIntegrationFleetApplyRejectRollback(t *testing.T) {
	b := newBox(t)
	b.watch(t)
	recv, audits := b.backend(t)
	b.starter(t)()

	eventually(t, "status committed v1", func() bool { s := b.current(); return s.State == fleet.StateCommitted && s.Version == 1 })

	v2 := b.configYAML(2, "300ms", b.br.URL)
	b.push(t, 2, v2)
	eventually(t, "v2 committed", func() bool { s := b.current(); return s.State == fleet.StateCommitted && s.Version == 2 })
	if v := b.running(t); v != 2 {
		t.Fatalf("configuration file at version %d, want 2", v)
	}

	// Documents a gateway must refuse: each is rejected with its reason,
	// and v2 keeps running; the status names the refused version apart
	// from the running one.
	other, err := confsig.LoadOpsKey(b.otherOpsKey(t))
	must.NoError(t, err)
	untrusted, err := confsig.Sign(other, 5, confsig.ForGateway("gw-001"), time.Time{}, time.Time{}, b.configYAML(5, "300ms", b.br.URL))
	must.NoError(t, err)
	good, err := confsig.Sign(b.ops, 5, confsig.ForGateway("gw-001"), time.Time{}, time.Time{}, b.configYAML(5, "300ms", b.br.URL))
	must.NoError(t, err)
	badSig := append([]byte(nil), good...)
	badSig[len(badSig)-1] ^= 0x01
	forOther, err := confsig.Sign(b.ops, 5, confsig.ForGateway("gw-002"), time.Time{}, time.Time{},
		[]byte(strings.Replace(string(b.configYAML(5, "300ms", b.br.URL)), "id: gw-001", "id: gw-002", 1)))
	must.NoError(t, err)
	unknownDriver, err := confsig.Sign(b.ops, 5, confsig.ForGateway("gw-001"), time.Time{}, time.Time{},
		[]byte(strings.Replace(string(b.configYAML(5, "300ms", b.br.URL)), "driver: sim", "driver: toaster", 1)))
	must.NoError(t, err)
	replay, err := confsig.Sign(b.ops, 1, confsig.ForGateway("gw-001"), time.Time{}, time.Time{}, b.configYAML(1, "200ms", b.br.URL))
	must.NoError(t, err)
	for _, tt := range []struct {
		name    string
		doc     []byte
		reason  string
		offered uint64
	}{
		{"replay of an older version", replay, "not-newer", 1},
		{"bad signature", badSig, "bad-signature", 5},
		{"untrusted ops key", untrusted, "untrusted-key", 5},
		{"config for another gateway", forOther, "not-for-this-gateway", 5},
		{"invalid config", unknownDriver, `devices[0].driver: "toaster" is not a known driver`, 5},
	} {
		b.publish(t, tt.doc)
		eventually(t, tt.name+" rejected", func() bool {
			s := b.current()
			return s.State == fleet.StateRejected && strings.Contains(s.Reason, tt.reason)
		})
		if s := b.current(); s.Version != 2 || s.Offered != tt.offered || b.running(t) != 2 {
			t.Errorf("%s: status %+v, running version %d; want 2 running and offered %d", tt.name, s, b.running(t), tt.offered)
		}
	}

	// v4 polls a device that always fails: the policy is to roll back (a
	// configuration must poll every device during probation).
	failing := strings.Replace(string(b.configYAML(4, "300ms", b.br.URL)), "class: telemetry}", "class: telemetry, options: {fail_every: 1}}", 1)
	b.push(t, 4, []byte(failing))
	poll.Until(t, 40*time.Second, "v4 rolled back", func() bool {
		s := b.current()
		return s.State == fleet.StateRolledBack && strings.Contains(s.Reason, "device aq-1 not polled")
	})
	if v := b.running(t); v != 2 {
		t.Errorf("configuration file at version %d after the failing device, want 2", v)
	}

	// v5 points at a port where no broker listens: probation fails (its
	// agent cannot even say it is on probation), and the rollback is
	// reported over the old uplink.
	b.push(t, 5, b.configYAML(5, "300ms", "ssl://127.0.0.1:1"))
	poll.Until(t, 40*time.Second, "v5 rolled back", func() bool {
		s := b.current()
		return s.State == fleet.StateRolledBack && strings.Contains(s.Reason, "broker not reached")
	})
	if s := b.current(); s.Version != 2 || !strings.Contains(s.Reason, "broker not reached") {
		t.Errorf("status after rollback: %+v", s)
	}
	if v := b.running(t); v != 2 {
		t.Errorf("configuration file at version %d after rollback, want 2", v)
	}
	eventually(t, "the rollback in the audit records", func() bool {
		for _, a := range audits() {
			if strings.Contains(a, `"action":"config.rollback"`) && strings.Contains(a, "broker not reached") {
				return true
			}
		}
		return false
	})
	if _, err := os.Stat(filepath.Join(b.dir, "state", fleet.ConfigDir, fleet.LastGoodFile)); err != nil {
		t.Errorf("no last-known-good copy: %v", err)
	}
	// Across the three agents, no sequence number went missing: the
	// buffer carried over every swap, and what v3 buffered went out on v2.
	eventually(t, "every batch at the backend", func() bool {
		sum := recv.Summary()
		return len(sum.Missing) == 0 && len(sum.Rejected) == 0 && sum.Envelopes > 0
	})

	// Key rotation: a document signed by the pinned key replaces the set
	// with a new key; the old one is retired at once.
	newKey, err := confsig.LoadOpsKey(b.otherOpsKey(t))
	must.NoError(t, err)
	rot, err := confsig.SignTrust(b.ops, 1, confsig.ForGateway("gw-001"), time.Time{}, time.Time{}, confsig.NewOpsTrust(newKey.Public()))
	must.NoError(t, err)
	b.publish(t, rot)
	eventually(t, "ops keys rotated", func() bool {
		return strings.Contains(b.current().Reason, "ops keys rotated to set version 1: 1 added, 1 retired")
	})
	b.push(t, 6, b.configYAML(6, "300ms", b.br.URL))
	eventually(t, "the retired key refused", func() bool {
		s := b.current()
		return s.State == fleet.StateRejected && strings.Contains(s.Reason, "untrusted-key")
	})
	b.ops = newKey
	b.push(t, 6, b.configYAML(6, "300ms", b.br.URL))
	eventually(t, "v6 signed by the new key committed", func() bool { s := b.current(); return s.State == fleet.StateCommitted && s.Version == 6 })
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, 30*time.Second, what, cond)
}

// TestIntegrationFleetKill9 kills a real `edgegw run` with SIGKILL while a
// pushed configuration is on probation: the restarted agent comes back to a
// consistent state by itself (it resumes probation and rolls back the
// configuration that cannot reach the broker), and reports it.
func TestIntegrationFleetKill9(t *testing.T) {
	b := newBox(t)
	b.watch(t)
	recv, _ := b.backend(t)
	start := b.starter(t)
	stateOf := func() string {
		data, _ := os.ReadFile(filepath.Join(b.dir, "state", fleet.StateFile))
		var st fleet.Status
		json.Unmarshal(data, &st)
		return st.State
	}

	cmd := start()
	eventually(t, "status committed v1", func() bool { s := b.current(); return s.State == fleet.StateCommitted && s.Version == 1 })
	b.push(t, 2, b.configYAML(2, "300ms", "ssl://127.0.0.1:1"))
	eventually(t, "v2 on probation on disk", func() bool { return stateOf() == fleet.StateProbation })
	must.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	if v := b.running(t); v != 2 {
		t.Fatalf("configuration on disk at version %d after the kill, want the applied 2", v)
	}
	start()
	poll.Until(t, 40*time.Second, "v2 rolled back after the restart", func() bool {
		s := b.current()
		return s.State == fleet.StateRolledBack && s.Version == 1
	})
	if v := b.running(t); v != 1 {
		t.Errorf("configuration file at version %d, want 1 restored", v)
	}
	// What the killed process buffered went out after the restart: no
	// sequence number is missing.
	eventually(t, "every sequence number at the backend", func() bool {
		sum := recv.Summary()
		return sum.Envelopes > 0 && len(sum.Missing) == 0 && sum.Reused == 0
	})

}

// TestIntegrationFleetLocalApply: an admin on the box applies a file through
// the control socket; it runs on probation, is committed, is audited, and
// fleet operations see the drift in the config status.
func TestIntegrationFleetLocalApply(t *testing.T) {
	b := newBox(t)
	socket := filepath.Join(b.dir, "control.sock")
	withSocket := func(v uint64, interval string) []byte {
		return []byte(strings.Replace(string(b.configYAML(v, interval, b.br.URL)), `control: {socket: "off"}`, "control: {socket: "+socket+"}", 1))
	}
	must.NoError(t, os.WriteFile(b.path, withSocket(1, "200ms"), 0o600))
	b.watch(t)
	b.starter(t)()
	ctx := context.Background()
	eventually(t, "status committed v1", func() bool { s := b.current(); return s.State == fleet.StateCommitted && s.Version == 1 })

	cl := control.Dial(socket)
	v, err := cl.ApplyConfig(ctx, withSocket(7, "300ms"))
	if err != nil || v != 7 {
		t.Fatalf("apply = %d, %v", v, err)
	}
	eventually(t, "local v7 committed and visible to ops", func() bool { s := b.current(); return s.State == fleet.StateCommitted && s.Version == 7 })
	if v := b.running(t); v != 7 {
		t.Errorf("configuration file at version %d, want 7", v)
	}
	if _, err := cl.ApplyConfig(ctx, []byte(strings.Replace(string(withSocket(8, "300ms")), "id: gw-001", "id: gw-009", 1))); err == nil {
		t.Error("a configuration for another gateway was applied")
	}
	var trail []control.Event
	eventually(t, "the control socket back", func() bool { trail, err = cl.Audit(ctx, 100); return err == nil })
	var applied int
	for _, e := range trail {
		if e.Action == "config.apply" && e.Result == "ok" {
			applied++
		}
	}
	if applied != 1 {
		t.Errorf("audit trail has %d successful config.apply, want 1: %+v", applied, trail)
	}
}

// TestIntegrationFleetResumesAfterCrashDuringApplying: the persisted state
// says a configuration was being applied when the power went; whatever file
// is on disk then runs on probation, and is committed when it works.
func TestIntegrationFleetResumesAfterCrashDuringApplying(t *testing.T) {
	b := newBox(t)
	b.watch(t)
	must.NoError(t, os.MkdirAll(filepath.Join(b.dir, "state"), 0o700))
	data, err := json.Marshal(fleet.Status{Gateway: "gw-001", Version: 3, State: fleet.StateApplying, Time: time.Now()})
	must.NoError(t, err)
	must.NoError(t, os.WriteFile(filepath.Join(b.dir, "state", fleet.StateFile), data, 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r := &fleet.Runner{Path: b.path, Deps: gateway.Deps{Logger: testLogger(t), DrainOnStop: time.Second}, Check: 100 * time.Millisecond}
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); must.NoError(t, <-done) }()
	eventually(t, "committed after the crash", func() bool { s := b.current(); return s.State == fleet.StateCommitted && s.Version == 1 })
}

// TestIntegrationFleetKill9WhileApplying kills a real `edgegw run` with
// SIGKILL at a random point right after each of five pushes, while the
// document is received, verified, written and the agent swapped. Each time
// the restarted agent ends with the pushed configuration committed, its file
// on disk, and no sequence number missing at the backend.
func TestIntegrationFleetKill9WhileApplying(t *testing.T) {
	b := newBox(t)
	b.watch(t)
	recv, _ := b.backend(t)
	start := b.starter(t)
	cmd := start()
	eventually(t, "status committed v1", func() bool { s := b.current(); return s.State == fleet.StateCommitted && s.Version == 1 })
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	for v := uint64(2); v <= 6; v++ {
		b.push(t, v, b.configYAML(v, "300ms", b.br.URL))
		kill := time.Duration(rng.IntN(150)) * time.Millisecond
		<-time.After(kill) // a random kill point, not a wait for a condition
		must.NoError(t, cmd.Process.Kill())
		cmd.Wait()
		cmd = start()
		eventually(t, fmt.Sprintf("v%d committed after a kill %s after its push (seed %d)", v, kill, seed), func() bool {
			s := b.current()
			return s.State == fleet.StateCommitted && s.Version == v && b.running(t) == v
		})
	}
	eventually(t, "every sequence number at the backend", func() bool {
		sum := recv.Summary()
		return sum.Envelopes > 0 && len(sum.Missing) == 0 && sum.Reused == 0
	})
}
