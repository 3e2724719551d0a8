package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/sim"
	"github.com/edgegw/edgegw/gateway"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
)

// simDevice is one simulated device of a test bed.
type simDevice struct {
	name, model, class string
	seed               int64
	interval           time.Duration
}

var testDevices = []simDevice{
	{"aq-1", "airquality", "telemetry", 1, 100 * time.Millisecond},
	{"aq-2", "airquality", "telemetry", 2, 150 * time.Millisecond},
	{"meter-1", "meter3p", "personal", 3, 100 * time.Millisecond},
}

// bed is a gateway's world for integration tests: a real Mosquitto with TLS
// and an ACL, the gateway's keys and certificate, two recipient key pairs,
// and a configuration file.
type bed struct {
	dir     string
	br      *mqtttest.Broker
	cfgPath string
	trust   envelope.Trust
	rks     []*keys.RecipientPrivate
	devices []simDevice
}

// bedOptions are the configuration values tests vary.
type bedOptions struct {
	durability, maxDelay time.Duration
	maxBytes             string
	maxReadings          int
	state                string           // state directory; default <dir>/state
	devices              []string         // more devices, one YAML flow mapping each
	uplink               string           // more uplink fields, ", key: value" each
	broker               mqtttest.Options // the broker's options
	sim                  []simDevice      // the simulated devices; default testDevices
}

func newBed(t *testing.T, o bedOptions) *bed {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	b := &bed{dir: t.TempDir(), devices: testDevices}
	if o.sim != nil {
		b.devices = o.sim
	}
	b.br = mqtttest.Start(t, o.broker)
	cert, key := b.br.Client(t, "gw-001")
	keyDir := filepath.Join(b.dir, "keys")
	must.NoError(t, keys.InitIdentity(keyDir, "gw-001", false))
	id, err := keys.LoadIdentity(keyDir)
	must.NoError(t, err)
	b.trust = envelope.NewTrust(id.Public())
	pubs := map[string]string{}
	for class, suite := range map[string]keys.Suite{"telemetry": keys.SuiteX25519, "personal": keys.SuiteMLKEM768X25519} {
		rdir := filepath.Join(b.dir, "recipient-"+class)
		must.NoError(t, keys.GenerateRecipient(rdir, suite, false))
		rk, err := keys.LoadRecipientPrivate(filepath.Join(rdir, "recipient.key"))
		must.NoError(t, err)
		b.rks = append(b.rks, rk)
		pubs[class] = filepath.Join(rdir, "recipient.pub")
	}
	var devs strings.Builder
	for _, d := range b.devices {
		fmt.Fprintf(&devs, "  - {name: %s, driver: sim, model: %s, interval: %s, class: %s, options: {seed: %d, trace: %s}}\n",
			d.name, d.model, d.interval, d.class, d.seed, b.tracePath(d.name))
	}
	for _, d := range o.devices {
		fmt.Fprintf(&devs, "  - %s\n", d)
	}
	if o.state == "" {
		o.state = filepath.Join(b.dir, "state")
	}
	cfg := fmt.Sprintf(`version: 3
gateway: {id: gw-001, keys: %s, state: %s}
uplink: {broker: %q, ca: %s, cert: %s, key: %s, backoff_min: 100ms, backoff_max: 500ms, health_interval: 1s%s}
recipients: {telemetry: %s, personal: %s}
batch: {max_readings: %d, max_delay: %s, durability: %s}
buffer: {max_bytes: %s, max_age: 24h}
log: {level: debug}
control: {socket: %s}
devices:
%s`, keyDir, o.state, b.br.URL, b.br.CAFile, cert, key, o.uplink, pubs["telemetry"], pubs["personal"],
		o.maxReadings, o.maxDelay, o.durability, o.maxBytes, filepath.Join(b.dir, "control.sock"), devs.String())
	b.cfgPath = filepath.Join(b.dir, "edgegw.yaml")
	must.NoError(t, os.WriteFile(b.cfgPath, []byte(cfg), 0o600))
	return b
}

func (b *bed) tracePath(device string) string { return filepath.Join(b.dir, device+".trace") }

// collector is the backend side of a test: it opens everything received and
// keeps each reading by device and time.
type collector struct {
	recv *backend.Receiver

	mu       sync.Mutex
	readings map[string]map[int64][]backend.Record // device → unix ns → records
	gaps     []envelope.Gap                        // gap records received
	audits   [][]byte                              // audit records received
	rejected []error
	depth    gateway.Health // deepest buffer in the health messages received
}

// subscribe starts a backend with a persistent session on the bed's broker,
// on the data topics and any extra ones.
func (b *bed) subscribe(t *testing.T, extra ...string) *collector {
	t.Helper()
	c := &collector{recv: backend.NewReceiver(b.trust, b.rks...), readings: map[string]map[int64][]backend.Record{}}
	cert, key := b.br.Client(t, b.br.Backend)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	var once sync.Once
	go func() {
		done <- mqtt.Subscribe(ctx, mqtt.SubscribeConfig{
			Broker: b.br.URL, CA: b.br.CAFile, Cert: cert, Key: key,
			ClientID: "test-backend", Topics: append([]string{"city/+/data/#"}, extra...),
			OnSubscribe: func() { once.Do(func() { close(ready) }) },
		}, c.handle)
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("backend subscription ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("backend subscription not established within 30s")
	}
	return c
}

func (c *collector) handle(topic string, payload []byte) {
	if strings.HasSuffix(topic, "/health") {
		var h gateway.Health
		err := json.Unmarshal(payload, &h)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			c.rejected = append(c.rejected, fmt.Errorf("health: %w", err))
		} else if h.BufferBytes > c.depth.BufferBytes {
			c.depth = h
		}
		return
	}
	res, err := c.recv.Handle(topic, payload)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.rejected = append(c.rejected, err)
		return
	}
	if res.Gap != nil {
		c.gaps = append(c.gaps, *res.Gap)
	}
	if res.Audit != nil {
		c.audits = append(c.audits, res.Audit)
	}
	for _, r := range res.Records() {
		tm, err := time.Parse(time.RFC3339Nano, r.Time)
		if err != nil {
			c.rejected = append(c.rejected, err)
			continue
		}
		if c.readings[r.Device] == nil {
			c.readings[r.Device] = map[int64][]backend.Record{}
		}
		c.readings[r.Device][tm.UnixNano()] = append(c.readings[r.Device][tm.UnixNano()], r)
	}
}

// receivedDropped counts the readings received from batches that a gap record
// reports dropped: the buffer may drop a batch the uplink was already
// publishing.
func (c *collector) receivedDropped() int {
	return c.receivedIn(func(envelope.Gap) bool { return true })
}

// receivedIn counts the readings received from batches that a gap record
// for which counts is true reports dropped.
func (c *collector) receivedIn(counts func(envelope.Gap) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, byTime := range c.readings {
		for _, rs := range byTime {
			for _, r := range rs {
				if slices.ContainsFunc(c.gaps, func(g envelope.Gap) bool { return counts(g) && r.Seq >= g.FromSeq && r.Seq <= g.ToSeq }) {
					n++
				}
			}
		}
	}
	return n
}

// count returns the number of distinct readings received.
func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, byTime := range c.readings {
		for _, rs := range byTime {
			n += len(rs)
		}
	}
	return n
}

// poll is one line of a sim trace: a poll and its number of readings.
type tracedPoll struct {
	at       time.Time
	readings int
}

// traces reads what each simulated device logged as produced.
func (b *bed) traces(t *testing.T) map[string][]tracedPoll {
	t.Helper()
	out := map[string][]tracedPoll{}
	for _, d := range b.devices {
		f, err := os.Open(b.tracePath(d.name))
		if os.IsNotExist(err) {
			continue
		}
		must.NoError(t, err)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var ns int64
			var n int
			if _, err := fmt.Sscan(sc.Text(), &ns, &n); err != nil {
				t.Fatalf("trace %s: %q: %v", d.name, sc.Text(), err)
			}
			out[d.name] = append(out[d.name], tracedPoll{time.Unix(0, ns), n})
		}
		f.Close()
	}
	return out
}

// produced counts the readings in traces.
func produced(tr map[string][]tracedPoll) int {
	n := 0
	for _, ps := range tr {
		for _, p := range ps {
			n += p.readings
		}
	}
	return n
}

// checkValues requires every received reading to be exactly what the
// simulated device produced at that time, and to be received once per poll
// at that time (a wall clock that went back polls a time again).
func (b *bed) checkValues(t *testing.T, c *collector) {
	t.Helper()
	polls := map[string]map[int64]int{}
	for dev, ps := range b.traces(t) {
		polls[dev] = map[int64]int{}
		for _, p := range ps {
			polls[dev][p.at.UnixNano()]++
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range b.devices {
		for ns, rs := range c.readings[d.name] {
			seen := map[string]int{}
			for _, r := range rs {
				if seen[r.Channel]++; seen[r.Channel] > polls[d.name][ns] {
					t.Errorf("%s %s at %d received %d times after dedupe, polled %d times", d.name, r.Channel, ns, seen[r.Channel], polls[d.name][ns])
				}
				want, ok := sim.Value(d.model, d.seed, d.name, r.Channel, time.Unix(0, ns))
				if !ok || r.Value == nil || float64(*r.Value) != want {
					t.Errorf("%s %s at %d = %v, the device produced %v", d.name, r.Channel, ns, r.Value, want)
				}
			}
		}
	}
	if len(c.rejected) > 0 {
		t.Errorf("backend rejected %d envelopes, first: %v", len(c.rejected), c.rejected[0])
	}
}

// missing lists the traced polls, for which required reports true, that the
// backend did not receive in full.
func (c *collector) missing(tr map[string][]tracedPoll, required func(device string, at time.Time) bool) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for dev, ps := range tr {
		for _, p := range ps {
			if required(dev, p.at) && len(c.readings[dev][p.at.UnixNano()]) != p.readings {
				out = append(out, dev+"@"+strconv.FormatInt(p.at.UnixNano(), 10))
			}
		}
	}
	return out
}
