package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/gateway/fleet"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/poll"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

const pushWait = 10 * time.Second

// pushExecute runs a command line with the fleet commands, config push and
// config status attached.
func pushExecute(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := fleetRoot()
	attach(root, "config", newConfigPushCmd(), newConfigStatusCmd())
	return executeSplit(root, args...)
}

// opsFixture is an ops key pair and a place for signed documents.
type opsFixture struct{ dir, key, pub string }

func newOpsFixture(t *testing.T) opsFixture {
	t.Helper()
	dir := t.TempDir()
	f := opsFixture{dir: dir, key: filepath.Join(dir, "ops", "ops.key"), pub: filepath.Join(dir, "ops", "ops.pub")}
	if out, errOut, code := fleetExecute(t, "keys", "ops", "--dir", filepath.Join(dir, "ops")); code != 0 {
		t.Fatalf("keys ops: exit %d: %s %s", code, out, errOut)
	}
	return f
}

// sign runs `config sign` for id's configuration at version with extra
// flags and returns the document's path.
func (f opsFixture) sign(t *testing.T, id string, version uint64, extra ...string) string {
	t.Helper()
	out := filepath.Join(f.dir, id+"-"+strings.Join(extra, "_")+".signed")
	args := append([]string{"config", "sign", "--key", f.key, "--version", strconv.FormatUint(version, 10), "--out", out}, extra...)
	if o, e, code := fleetExecute(t, append(args, fleetConfig(t, f.dir, id, version))...); code != 0 {
		t.Fatalf("config sign: exit %d: %s %s", code, o, e)
	}
	return out
}

// brokerArgs are the connection flags for identity cn.
func brokerArgs(t *testing.T, br *mqtttest.Broker, cn string) []string {
	cert, key := br.Client(t, cn)
	return []string{"--broker", br.URL, "--ca", br.CAFile, "--cert", cert, "--key", key}
}

// inbox collects the messages of a subscription with cn's certificate.
type inbox struct {
	mu   sync.Mutex
	msgs map[string][][]byte
}

func (in *inbox) get(topic string) [][]byte {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.msgs[topic])
}

// watch subscribes as cn (clean session) and returns once subscribed.
func watch(t *testing.T, br *mqtttest.Broker, cn string, topics ...string) *inbox {
	t.Helper()
	cert, key := br.Client(t, cn)
	in := &inbox{msgs: map[string][][]byte{}}
	ready := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- mqtt.Subscribe(ctx, mqtt.SubscribeConfig{
			Broker: br.URL, CA: br.CAFile, Cert: cert, Key: key,
			ClientID: cn + "-watch", Topics: topics, CleanSession: true,
			OnSubscribe: func() { once.Do(func() { close(ready) }) },
		}, func(topic string, payload []byte) {
			in.mu.Lock()
			defer in.mu.Unlock()
			in.msgs[topic] = append(in.msgs[topic], slices.Clone(payload))
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case <-time.After(pushWait):
		t.Fatalf("%s: not subscribed", cn)
	}
	return in
}

// publishAs publishes retained messages with cn's certificate.
func publishAs(t *testing.T, br *mqtttest.Broker, cn string, msgs ...mqtt.Message) {
	t.Helper()
	cert, key := br.Client(t, cn)
	ctx, cancel := context.WithTimeout(context.Background(), pushWait)
	defer cancel()
	errs, err := mqtt.PublishRetained(ctx, mqtt.ClientConfig{Broker: br.URL, CA: br.CAFile, Cert: cert, Key: key}, msgs)
	must.NoError(t, err)
	for _, err := range errs {
		must.NoError(t, err)
	}
}

func integrationBroker(t *testing.T) *mqtttest.Broker {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test skipped with -short")
	}
	return mqtttest.Start(t, mqtttest.Options{})
}

// TestIntegrationConfigPush pushes a trust document to two gateways and a
// configuration to one; each gateway's certificate reads its own retained
// config/set, and gw-002's cannot read gw-001's.
func TestIntegrationConfigPush(t *testing.T) {
	br := integrationBroker(t)
	ops := newOpsFixture(t)
	opsArgs := brokerArgs(t, br, br.Ops)

	trust := filepath.Join(ops.dir, "trust.signed")
	if o, e, code := fleetExecute(t, "config", "sign-trust", "--key", ops.key, "--version", "2", "--pin", ops.pub,
		"--gateway", "gw-001", "--gateway", "gw-002", "--out", trust); code != 0 {
		t.Fatalf("sign-trust: exit %d: %s %s", code, o, e)
	}
	out, errOut, code := pushExecute(t, append(append([]string{"config", "push"}, opsArgs...), trust)...)
	if code != 0 {
		t.Fatalf("push trust: exit %d: %s %s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "gw-001  published  trust v2") || !strings.HasPrefix(lines[1], "gw-002  published  trust v2") ||
		!strings.HasSuffix(lines[1], "retained on city/gw-002/config/set") {
		t.Errorf("push trust output:\n%s", out)
	}

	cfg := ops.sign(t, "gw-001", 3)
	out, errOut, code = pushExecute(t, append(append([]string{"config", "push"}, opsArgs...), cfg)...)
	if code != 0 || !strings.HasPrefix(out, "gw-001  published  config v3") || strings.Count(out, "\n") != 1 {
		t.Fatalf("push config: exit %d: %s %s", code, out, errOut)
	}
	trustDoc, _ := os.ReadFile(trust)
	cfgDoc, _ := os.ReadFile(cfg)

	gw1 := watch(t, br, "gw-001", "city/gw-001/config/set")
	poll.Until(t, pushWait, "gw-001's retained configuration", func() bool {
		m := gw1.get("city/gw-001/config/set")
		return len(m) == 1 && bytes.Equal(m[0], cfgDoc)
	})

	// gw-002 reads its own document; gw-001's never arrives: after gw-002's
	// own sync message, which the broker routes after the retained messages
	// it queued at the subscription, nothing of gw-001's came.
	gw2 := watch(t, br, "gw-002", "city/gw-001/config/set", "city/gw-002/config/set", "city/gw-002/sync")
	publishAs(t, br, "gw-002", mqtt.Message{Topic: "city/gw-002/sync", Payload: []byte("sync")})
	poll.Until(t, pushWait, "gw-002's sync message", func() bool { return len(gw2.get("city/gw-002/sync")) == 1 })
	if m := gw2.get("city/gw-002/config/set"); len(m) != 1 || !bytes.Equal(m[0], trustDoc) {
		t.Errorf("gw-002 read %d documents on its config/set, want the trust document", len(m))
	}
	if m := gw2.get("city/gw-001/config/set"); len(m) != 0 {
		t.Errorf("gw-002 read gw-001's configuration (%d messages)", len(m))
	}

	// A certificate the ACL does not allow to push: the broker acknowledges
	// and drops the publish, then closes the connection; push says so.
	out, errOut, code = pushExecute(t, append(append([]string{"config", "push"}, brokerArgs(t, br, "gw-003")...), cfg)...)
	if code != 1 || !strings.Contains(out, "gw-001  FAILED") || !strings.Contains(out, "closed the connection") ||
		!strings.Contains(errOut, "1 of 1 publishes not confirmed") {
		t.Errorf("push with gw-003's certificate: exit %d: %s %s", code, out, errOut)
	}
	// No broker on the port.
	dead := append(brokerArgs(t, br, br.Ops), "--broker", "mqtts://127.0.0.1:1", "--timeout", "2s")
	if out, errOut, code = pushExecute(t, append(append([]string{"config", "push"}, dead...), cfg)...); code != 1 || !strings.Contains(errOut, "connect to mqtts://127.0.0.1:1") {
		t.Errorf("push to a dead port: exit %d: %s %s", code, out, errOut)
	}
	if out, errOut, code = pushExecute(t, append([]string{"config", "status"}, dead...)...); code != 1 || !strings.Contains(errOut, "not subscribed to mqtts://127.0.0.1:1 within 2s") {
		t.Errorf("status from a dead port: exit %d: %s %s", code, out, errOut)
	}
}

// TestIntegrationConfigStatus shows the retained statuses gateways publish.
func TestIntegrationConfigStatus(t *testing.T) {
	br := integrationBroker(t)
	now := time.Now().UTC().Truncate(time.Second)
	status := func(s fleet.Status) []byte { b, _ := json.Marshal(s); return b }
	publishAs(t, br, "gw-001", mqtt.Message{Topic: "city/gw-001/config/status", Payload: status(fleet.Status{
		Gateway: "gw-001", Version: 3, Hash: strings.Repeat("0f", 32), State: fleet.StateCommitted, Time: now.Add(-90 * time.Second)})})
	publishAs(t, br, "gw-002", mqtt.Message{Topic: "city/gw-002/config/status", Payload: status(fleet.Status{
		Gateway: "gw-002", Version: 2, State: fleet.StateRolledBack, Reason: "probation: broker unreachable\n(dial tcp: refused)", Time: now})})
	publishAs(t, br, "gw-003", mqtt.Message{Topic: "city/gw-003/config/status", Payload: []byte(`{"gateway":"gw-001","version":1,"state":"committed","time":"2026-01-01T00:00:00Z"}`)})
	// gw-004 runs v9 and refused an older retained document, v5, for a
	// reason longer than the table's column.
	longReason := "version 5: not-newer: version 5 is not newer than the running version 9; sign the change as version 10 or higher"
	publishAs(t, br, "gw-004", mqtt.Message{Topic: "city/gw-004/config/status", Payload: status(fleet.Status{
		Gateway: "gw-004", Version: 9, State: fleet.StateRejected, Offered: 5, Reason: longReason, Time: now})})
	opsArgs := brokerArgs(t, br, br.Ops)

	// gw-003's status claims another gateway: shown as invalid.
	out, errOut, code := pushExecute(t, append([]string{"config", "status", "--timeout", "2s"}, opsArgs...)...)
	if code != 0 {
		t.Fatalf("status: exit %d: %s %s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "GATEWAY RUNNING STATE OFFERED AGE REASON" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "gw-001 v3 committed - 1m3") ||
		!strings.Contains(lines[2], "rolled-back") || !strings.HasSuffix(lines[2], "probation: broker unreachable (dial tcp: refused)") ||
		!strings.Contains(lines[3], `invalid`) || !strings.Contains(lines[3], `claims gateway "gw-001"`) ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[4]), " "), "gw-004 v9 rejected v5 ") || !strings.Contains(lines[4], "  version 5: not-newer") ||
		!strings.HasSuffix(lines[4], "…") || strings.Contains(lines[4], "version 10 or higher") {
		t.Errorf("status table:\n%s", out)
	}
	// --wide prints the reason whole.
	out, errOut, code = pushExecute(t, append([]string{"config", "status", "--timeout", "30s", "--gateway", "gw-004", "--wide"}, opsArgs...)...)
	if code != 0 || !strings.Contains(out, longReason+"\n") {
		t.Errorf("status --wide: exit %d: %s %s", code, out, errOut)
	}

	// Named gateways: done as soon as they answered, well before --timeout.
	start := time.Now()
	out, errOut, code = pushExecute(t, append([]string{"config", "status", "--timeout", "30s", "--gateway", "gw-002", "--json"}, opsArgs...)...)
	if code != 0 || time.Since(start) > 15*time.Second {
		t.Fatalf("status --gateway gw-002: exit %d after %v: %s %s", code, time.Since(start), out, errOut)
	}
	var rows []fleet.StatusRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 || rows[0].Status == nil ||
		rows[0].Status.State != fleet.StateRolledBack || !rows[0].Status.Time.Equal(now) {
		t.Errorf("status --json: %v\n%s", err, out)
	}
	// --json carries the running version, the offered one and the whole reason.
	out, errOut, code = pushExecute(t, append([]string{"config", "status", "--timeout", "30s", "--gateway", "gw-004", "--json"}, opsArgs...)...)
	rows = nil
	if err := json.Unmarshal([]byte(out), &rows); code != 0 || err != nil || len(rows) != 1 || rows[0].Status == nil ||
		rows[0].Status.Version != 9 || rows[0].Status.Offered != 5 || rows[0].Status.Reason != longReason {
		t.Errorf("status --json of gw-004: exit %d, %v\n%s%s", code, err, out, errOut)
	}

	// A named gateway that sent nothing: listed, and exit 1.
	out, errOut, code = pushExecute(t, append([]string{"config", "status", "--timeout", "1s", "--gateway", "gw-001", "--gateway", "gw-009"}, opsArgs...)...)
	if code != 1 || !strings.Contains(strings.Join(strings.Fields(out), " "), "gw-009 - no status - - -") || !strings.Contains(errOut, "no status from gw-009") {
		t.Errorf("status with a silent gateway: exit %d: %s %s", code, out, errOut)
	}
}

// TestConfigPushRefuses checks the command lines and documents push and
// status refuse before connecting (the broker address is never dialled).
func TestConfigPushRefuses(t *testing.T) {
	ops := newOpsFixture(t)
	dir := ops.dir
	key := filepath.Join(dir, "client.key")
	os.WriteFile(key, nil, 0o600)
	conn := []string{"--broker", "mqtts://127.0.0.1:1", "--ca", "ca.pem", "--cert", "c.pem", "--key", key}
	cfg := ops.sign(t, "gw-001", 1)
	list := ops.sign(t, "gw-001", 1, "--gateway", "gw-001", "--gateway", "gw-002")
	group := ops.sign(t, "gw-001", 1, "--group", "north")
	expired := ops.sign(t, "gw-001", 1, "--not-before", "2020-01-01T00:00:00Z", "--expires", "2021-01-01T00:00:00Z")
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("version: 1\n"), 0o644)

	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no document", append([]string{"config", "push"}, conn...), 2, "accepts 1 arg"},
		{"no broker", []string{"config", "push", "--ca", "a", "--cert", "b", "--key", "c", cfg}, 2, "--broker is required"},
		{"no key", []string{"config", "push", "--broker", "mqtts://x", "--ca", "a", "--cert", "b", cfg}, 2, "--key is required"},
		{"bad prefix", append([]string{"config", "push", "--prefix", "city/+"}, append(conn, cfg)...), 2, "--prefix"},
		{"bad gateway", append([]string{"config", "push", "--gateway", "GW 1"}, append(conn, cfg)...), 2, "--gateway"},
		{"bad timeout", append([]string{"config", "push", "--timeout", "0s"}, append(conn, cfg)...), 2, "--timeout"},
		{"unknown flag", append([]string{"config", "push", "--qos", "2"}, append(conn, cfg)...), 2, "unknown flag"},
		{"group without recipients", append([]string{"config", "push"}, append(conn, group)...), 2, "cannot expand fleet groups"},
		{"group to another gateway", append([]string{"config", "push", "--gateway", "gw-002"}, append(conn, group)...), 2, "configuration is for gateway gw-001"},
		{"list configuration", append([]string{"config", "push"}, append(conn, list)...), 2, "push with --gateway gw-001"},
		{"outside the target", append([]string{"config", "push", "--gateway", "gw-003"}, append(conn, list)...), 2, "not in the document's target"},
		{"not a document", append([]string{"config", "push"}, append(conn, junk)...), 1, "not a signed edgegw"},
		{"missing file", append([]string{"config", "push"}, append(conn, filepath.Join(dir, "nope"))...), 1, "no such file"},
		{"expired", append([]string{"config", "push"}, append(conn, expired)...), 1, "expired at 2021-01-01T00:00:00Z"},
		{"status argument", append([]string{"config", "status"}, append(conn, "x")...), 2, "accepts 0 arg"},
		{"status no cert", []string{"config", "status", "--broker", "mqtts://x", "--ca", "a", "--key", "c"}, 2, "--cert is required"},
		{"status bad gateway", append([]string{"config", "status", "--gateway", "gw/1"}, conn...), 2, "--gateway"},
		{"status bad timeout", append([]string{"config", "status", "--timeout", "-1s"}, conn...), 2, "--timeout"},
	} {
		out, errOut, code := pushExecute(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s%s", tt.name, code, tt.code, tt.want, out, errOut)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\nb\x1b[31mc\u0085", 80); got != "a b [31mc " {
		t.Errorf("oneLine = %q", got)
	}
	if got := oneLine(strings.Repeat("é", 10), 5); got != "éééé…" {
		t.Errorf("oneLine = %q", got)
	}
	if got := oneLine(strings.Repeat("é", 100)+"\n", 0); got != strings.Repeat("é", 100)+" " {
		t.Errorf("oneLine whole = %q", got)
	}
}
