package uplink_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/pki"
	"github.com/edgegw/edgegw/gateway/uplink"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// TestIntegrationPublishAll publishes 200 batches; the backend receives every
// seq and the source ends empty.
func TestIntegrationPublishAll(t *testing.T) {
	br := integration(t)
	rx := receive(t, br, "backend-all", true, "city/+/data/#")

	src := &memSource{}
	last := src.add(200, "telemetry", 1600)
	p, _, _ := startPublisher(t, br, br.URL, "gw-001", src, uplink.Deps{}, func(c *uplink.Config) { c.Inflight = 16 })

	eventually(t, "200 distinct seqs at the backend", func() bool { return rx.distinct() == int(last) })
	eventually(t, "an empty source", func() bool { return src.len() == 0 })
	for _, m := range rx.Snapshot() {
		if m.Topic != "city/gw-001/data/telemetry" {
			t.Errorf("topic %q", m.Topic)
		}
		seq := seqOf(m.Payload)
		if !bytes.Equal(m.Payload[8:11], []byte("hdr")) || len(m.Payload) != 8+3+1600+3 || m.Payload[11] != byte(seq) {
			t.Errorf("seq %d: payload mangled", seq)
		}
	}
	acked := src.ackedSeqs()
	if len(acked) != 200 {
		t.Errorf("%d acks, want 200", len(acked))
	}
	for i, s := range acked {
		if s != uint64(i+1) {
			t.Fatalf("ack %d is seq %d: acks out of order", i, s)
		}
	}
	eventually(t, "state counters", func() bool {
		st := p.State()
		return st.Connected && st.Acked == 200 && st.Published >= 200
	})
	// Notify wakes the loop for a batch sealed later.
	src.add(1, "personal", 10)
	p.Notify()
	eventually(t, "seq 201", func() bool { return rx.has(201) })
}

// TestIntegrationSealedOutOfOrder: a batch that closes after a later number
// (a telemetry batch still open while a personal one closed) is published
// as soon as it closes, without waiting for a reconnect.
func TestIntegrationSealedOutOfOrder(t *testing.T) {
	br := integration(t)
	rx := receive(t, br, "backend-order", true, "city/+/data/#")
	src := &memSource{}
	src.add(3, "telemetry", 10)
	seal := src.hold(2)
	p, _, _ := startPublisher(t, br, br.URL, "gw-001", src, uplink.Deps{}, nil)
	eventually(t, "seqs 1 and 3", func() bool { return rx.has(1) && rx.has(3) && src.len() == 0 })
	seal()
	p.Notify()
	eventually(t, "seq 2 once it closed", func() bool { return rx.has(2) })
	if st := p.State(); st.Reconnects != 0 {
		t.Errorf("%d reconnects: seq 2 must go out on the same connection", st.Reconnects)
	}
}

// TestIntegrationBrokerRestart stops the broker while batches are pending,
// adds more during the outage, and restarts it: every seq arrives, and every
// acknowledged seq was received.
func TestIntegrationBrokerRestart(t *testing.T) {
	br := integration(t)
	// Persistent session: what the broker holds for the backend survives
	// the restart.
	rx := receive(t, br, "backend-restart", false, "city/+/data/#")

	src := &memSource{}
	src.add(100, "telemetry", 1600)
	p, _, _ := startPublisher(t, br, br.URL, "gw-001", src, uplink.Deps{}, func(c *uplink.Config) { c.Inflight = 8 })
	eventually(t, "first deliveries", func() bool { return rx.distinct() >= 30 })

	br.Stop()
	last := src.add(100, "telemetry", 1600)
	p.Notify()
	eventually(t, "the publisher to notice the outage", func() bool {
		st := p.State()
		return !st.Connected && strings.Contains(st.LastError, "connect to")
	})
	if n := rx.distinct(); n >= int(last) {
		t.Fatalf("%d seqs received during the outage", n)
	}
	br.Restart()

	eventually(t, "every seq at the backend", func() bool { return rx.distinct() == int(last) })
	eventually(t, "an empty source", func() bool { return src.len() == 0 })
	for _, s := range src.ackedSeqs() {
		if !rx.has(s) {
			t.Errorf("seq %d acked but never received", s)
		}
	}
	dups := 0
	rx.mu.Lock()
	for _, n := range rx.seqs {
		dups += n - 1
	}
	rx.mu.Unlock()
	st := p.State()
	t.Logf("%d seqs, %d duplicates, state %+v", last, dups, st)
	if st.Reconnects < 1 {
		t.Errorf("reconnects %d, want >= 1", st.Reconnects)
	}
	if st.Takeover != "" {
		t.Errorf("a broker restart taken for a session takeover: %s", st.Takeover)
	}
}

// TestIntegrationClonedClientID: two publishers share one gateway's
// identity and client id, as two boxes cloned from one SD card do. The
// broker closes the older session whenever the other connects; both
// publishers say so, and each batch still reaches the broker.
func TestIntegrationClonedClientID(t *testing.T) {
	br := integration(t)
	rx := receive(t, br, "backend-clone", true, "city/+/data/#")
	a, b := &memSource{}, &memSource{}
	a.add(5, "telemetry", 100)
	pa, _, _ := startPublisher(t, br, br.URL, "gw-001", a, uplink.Deps{}, nil)
	pb, _, _ := startPublisher(t, br, br.URL, "gw-001", b, uplink.Deps{}, nil)
	for name, p := range map[string]*uplink.Publisher{"first": pa, "second": pb} {
		eventually(t, "the "+name+" publisher to see the takeover", func() bool { return p.State().Takeover != "" })
		if st := p.State(); !strings.Contains(st.Takeover, `client id "gw-001"`) {
			t.Errorf("%s publisher: takeover %q does not name the client id", name, st.Takeover)
		}
	}
	eventually(t, "the batches at the broker", func() bool { return rx.distinct() == 5 })
}

// TestIntegrationACL checks that gw-002 can neither publish into nor read
// gw-001's topics. MQTT 3.1.1 brokers drop such publishes silently, so the
// checks synchronise on messages that are delivered.
func TestIntegrationACL(t *testing.T) {
	br := integration(t)
	var backend, snoop received
	subscribe(t, br, br.Backend, "backend-acl", true, []string{"city/+/data/#", "city/+/health"}, backend.handle)
	subscribe(t, br, "gw-002", "gw-002-snoop", true, []string{"city/gw-001/#", "city/gw-002/#"}, snoop.handle)

	forged := append(make([]byte, 8), "forged"...)
	forged[7] = 1 // claims seq 1
	// Mosquitto 2.0 answers a denied QoS 1 publish with a PUBACK, drops it
	// and then closes the connection; the PUBACK proves the broker has
	// processed it. Retry on a fresh connection until it is seen.
	for i := 0; ; i++ {
		evil := rawClient(t, br, "gw-002", fmt.Sprintf("gw-002-evil-%d", i))
		tok := evil.Publish("city/gw-001/data/telemetry", 1, false, forged)
		if tok.WaitTimeout(waitTimeout) && tok.Error() == nil {
			break
		}
		if i == 10 {
			t.Fatalf("forged publish never acknowledged: %v", tok.Error())
		}
	}

	// Control: gw-001's own batch 1 arrives after the forged publish was
	// processed by the broker.
	src := &memSource{}
	src.add(1, "telemetry", 32)
	startPublisher(t, br, br.URL, "gw-001", src, uplink.Deps{}, nil)
	eventually(t, "gw-001's control batch", func() bool { return backend.has(1) })
	for _, m := range backend.Snapshot() {
		if bytes.Contains(m.Payload, []byte("forged")) {
			t.Errorf("backend received gw-002's forged publish on %s", m.Topic)
		}
	}

	// gw-002 sees its own sync message, queued after everything the broker
	// routed before; nothing of gw-001's may precede it.
	waitToken(t, rawClient(t, br, "gw-002", "gw-002-sync").Publish("city/gw-002/sync", 1, false, []byte("sync")))
	eventually(t, "gw-002's sync message", func() bool {
		for _, m := range snoop.Snapshot() {
			if m.Topic == "city/gw-002/sync" {
				return true
			}
		}
		return false
	})
	for _, m := range snoop.Snapshot() {
		if strings.HasPrefix(m.Topic, "city/gw-001/") {
			t.Errorf("gw-002 read gw-001's %s: %q", m.Topic, m.Payload)
		}
	}
}

func healthStates(rx *received, topic string) []string {
	var out []string
	for _, m := range rx.Snapshot() {
		if m.Topic != topic {
			continue
		}
		var doc struct {
			State string `json:"state"`
		}
		json.Unmarshal(m.Payload, &doc)
		out = append(out, doc.State)
	}
	return out
}

// TestIntegrationLastWill cuts the connection abruptly: the broker publishes
// the retained offline will, then the publisher reconnects and is online
// again.
func TestIntegrationLastWill(t *testing.T) {
	br := integration(t)
	proxy := mqtttest.NewProxy(t, br.Addr)
	rx := receive(t, br, "backend-lwt", true, "city/+/health")

	src := &memSource{}
	health := func() any { return map[string]any{"buffered": src.len(), "state": "ignored"} }
	p, _, _ := startPublisher(t, br, proxy.URL, "gw-001", src, uplink.Deps{Health: health}, nil)
	const topic = "city/gw-001/health"
	eventually(t, "online health", func() bool { return len(healthStates(rx, topic)) >= 1 })
	first := rx.Snapshot()[0]
	var doc map[string]any
	if err := json.Unmarshal(first.Payload, &doc); err != nil || doc["state"] != "online" || doc["buffered"] != float64(0) {
		t.Fatalf("online health %s (%v), want state online and buffered 0", first.Payload, err)
	}

	proxy.Kill()
	eventually(t, "offline will", func() bool {
		s := healthStates(rx, topic)
		return len(s) >= 2 && s[1] == "offline"
	})
	eventually(t, "online again", func() bool {
		s := healthStates(rx, topic)
		return len(s) >= 3 && s[2] == "online"
	})
	if st := p.State(); st.Reconnects < 1 {
		t.Errorf("reconnects %d, want >= 1", st.Reconnects)
	}
}

// TestIntegrationGracefulStop cancels Run: it publishes the retained offline
// health, disconnects and returns nil promptly.
func TestIntegrationGracefulStop(t *testing.T) {
	br := integration(t)
	src := &memSource{}
	p, cancel, done := startPublisher(t, br, br.URL, "gw-001", src, uplink.Deps{}, func(c *uplink.Config) {
		c.HealthInterval = 20 * time.Millisecond
	})
	rx := receive(t, br, "backend-stop", true, "city/+/health")
	const topic = "city/gw-001/health"
	eventually(t, "periodic online health", func() bool { return len(healthStates(rx, topic)) >= 3 })

	start := time.Now()
	cancel()
	select {
	case <-done.done:
		if done.err != nil {
			t.Fatalf("run: %v", done.err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("run did not return")
	}
	t.Logf("stopped in %v", time.Since(start))
	if p.State().Connected {
		t.Error("still connected after stop")
	}
	eventually(t, "offline health", func() bool {
		s := healthStates(rx, topic)
		return len(s) > 0 && s[len(s)-1] == "offline"
	})
	// The offline document is retained for later subscribers.
	var later received
	subscribe(t, br, br.Backend, "backend-later", true, []string{topic}, later.handle)
	eventually(t, "retained offline", func() bool {
		s := healthStates(&later, topic)
		return len(s) == 1 && s[0] == "offline"
	})
}

// TestIntegrationBadCertificate checks that a client certificate from another
// CA is refused and reported in State.
func TestIntegrationBadCertificate(t *testing.T) {
	br := integration(t)
	other, err := pki.NewCA("rogue", time.Hour)
	must.NoError(t, err)
	crt, key, err := other.Issue("gw-001", false, nil, time.Hour)
	must.NoError(t, err)
	dir := t.TempDir()
	must.NoError(t, pki.WriteFiles(dir, "gw-001", crt, key))
	certFile, keyFile := filepath.Join(dir, "gw-001.pem"), filepath.Join(dir, "gw-001.key")
	src := &memSource{}
	src.add(1, "telemetry", 8)
	p, _, _ := startPublisher(t, br, br.URL, "gw-001", src, uplink.Deps{}, func(c *uplink.Config) {
		c.Cert, c.Key = certFile, keyFile
	})
	eventually(t, "a connect error", func() bool { return p.State().LastError != "" })
	if st := p.State(); st.Connected || st.Acked != 0 || src.len() != 1 {
		t.Errorf("state %+v, source %d: want disconnected and nothing acked", st, src.len())
	}
}

func TestNewKeyPermissions(t *testing.T) {
	ca, err := pki.NewCA("ca", time.Hour)
	must.NoError(t, err)
	dir := t.TempDir()
	must.NoError(t, pki.WriteFiles(dir, "ca", ca.CertPEM(), nil))
	caFile := filepath.Join(dir, "ca.pem")
	crt, key, err := ca.Issue("gw-001", false, nil, time.Hour)
	must.NoError(t, err)
	must.NoError(t, pki.WriteFiles(dir, "gw-001", crt, key))
	certFile, keyFile := filepath.Join(dir, "gw-001.pem"), filepath.Join(dir, "gw-001.key")
	cfg := uplink.Config{
		Broker: "mqtts://127.0.0.1:8883", CA: caFile, Cert: certFile, Key: keyFile,
		TopicPrefix: "city", GatewayID: "gw-001",
	}
	if _, err := uplink.New(cfg, &memSource{}, uplink.Deps{Marshal: marshal}); err != nil {
		t.Fatalf("mode 0600: %v", err)
	}
	must.NoError(t, os.Chmod(keyFile, 0o640))
	_, err = uplink.New(cfg, &memSource{}, uplink.Deps{Marshal: marshal})
	if !errors.Is(err, mqtt.ErrKeyPermissions) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("mode 0640: error %v, want ErrKeyPermissions with a chmod hint", err)
	}
	if err := mqtt.Subscribe(t.Context(), mqtt.SubscribeConfig{
		Broker: cfg.Broker, CA: caFile, Cert: certFile, Key: keyFile, ClientID: "b", Topics: []string{"#"},
	}, func(string, []byte) {}); !errors.Is(err, mqtt.ErrKeyPermissions) {
		t.Fatalf("subscribe with mode 0640: error %v, want ErrKeyPermissions", err)
	}
}

func TestNewConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*uplink.Config)
		want   string
	}{
		{"plain tcp", func(c *uplink.Config) { c.Broker = "tcp://127.0.0.1:1883" }, "not supported"},
		{"no prefix", func(c *uplink.Config) { c.TopicPrefix = "" }, `topic prefix "" must not be empty`},
		{"wildcard id", func(c *uplink.Config) { c.GatewayID = "gw-+" }, "wildcard"},
		{"slash id", func(c *uplink.Config) { c.GatewayID = "a/b" }, "slash"},
		{"inflight", func(c *uplink.Config) { c.Inflight = 70000 }, "inflight"},
		{"backoff", func(c *uplink.Config) { c.BackoffMin, c.BackoffMax = time.Minute, time.Second }, "backoff"},
		{"no ca", func(c *uplink.Config) { c.CA = "" }, "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := uplink.Config{
				Broker: "ssl://127.0.0.1:8883", CA: "ca.pem", Cert: "c.pem", Key: "k.pem",
				TopicPrefix: "city", GatewayID: "gw-001",
			}
			tc.mutate(&cfg)
			_, err := uplink.New(cfg, &memSource{}, uplink.Deps{Marshal: marshal})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
