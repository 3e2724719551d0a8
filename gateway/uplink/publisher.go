package uplink

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/mqtt"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultInflight allows ~1,000 batches/s (100,000 readings/s) over a
	// 100 ms round trip, and matches AWS IoT Core's limit of 100
	// unacknowledged QoS 1 messages per client.
	DefaultInflight       = 100
	DefaultBackoffMin     = time.Second
	DefaultBackoffMax     = 2 * time.Minute
	DefaultHealthInterval = time.Minute
)

const (
	// pollInterval is the safety net that looks for new batches even when
	// nobody called Notify.
	pollInterval = time.Second
	// stopTimeout bounds the graceful stop: the offline health publish and
	// its PUBACK.
	stopTimeout = 5 * time.Second
	// maxInflight is the largest window MQTT packet identifiers allow.
	maxInflight = 65535
)

var offlineDoc = []byte(`{"state":"offline"}`)

// Config configures a Publisher.
type Config struct {
	// Broker is the broker URL: ssl://host:port, tls://host:port or
	// mqtts://host:port (port 8883 when omitted). Plain TCP is refused.
	Broker string
	// CA is the PEM file of the CA that signed the broker's certificate;
	// it is the only trusted root.
	CA string
	// Cert is the PEM file of the client certificate, whose common name is
	// the gateway id.
	Cert string
	// Key is the PEM file of the client key. It must not be accessible by
	// group or others (chmod 600).
	Key string
	// TopicPrefix is the first topic level(s), such as "city". Required.
	TopicPrefix string
	// GatewayID is this gateway's id, the common name of Cert. Required.
	GatewayID string
	// ClientID is the MQTT client identifier; GatewayID when empty.
	ClientID string
	// KeepAlive is the MQTT keep-alive interval; mqtt.DefaultKeepAlive when zero.
	// Range 1 s to 18 h.
	KeepAlive time.Duration
	// Inflight is the number of batches published and not yet acknowledged
	// at once, 1 to 65535; DefaultInflight when zero.
	Inflight int
	// BackoffMin is the reconnect backoff base; DefaultBackoffMin when zero.
	BackoffMin time.Duration
	// BackoffMax caps the reconnect backoff; DefaultBackoffMax when zero.
	// It must not be below BackoffMin.
	BackoffMax time.Duration
	// HealthInterval is the period of the retained health publish;
	// DefaultHealthInterval when zero, never when negative (the health is
	// then published on connect only).
	HealthInterval time.Duration
}

// Source is where the Publisher takes batches from and acknowledges them.
// buffer.Store satisfies it.
type Source interface {
	// Next returns up to max closed batches with a sequence number greater
	// than after, in ascending order.
	Next(after uint64, max int) ([]buffer.Batch, error)
	// Ack deletes batches the broker acknowledged.
	Ack(seqs ...uint64) error
}

// buffer.Store satisfies Source.
var _ Source = buffer.Store(nil)

// Deps holds what the Publisher needs from the agent.
type Deps struct {
	// Marshal encodes a batch into the MQTT payload (the envelope wire
	// format). Required.
	Marshal func(buffer.Batch) []byte
	// Health returns the JSON-able health document published retained on
	// <prefix>/<id>/health. It should marshal to a JSON object; its "state"
	// member is set to "online". Optional.
	Health func() any
	// Logger receives the publisher's logs; nothing is logged when nil.
	Logger *slog.Logger
	// Rand returns a uniform random number in [0, n) for n > 0; it draws the
	// backoff jitter. math/rand/v2's Int64N when nil.
	Rand func(n int64) int64
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// OnConfig, when set, receives each message on <prefix>/<id>/config/set
	// (signed configuration documents from fleet operations; the retained
	// one arrives at every connection). It must not block.
	OnConfig func(payload []byte)
	// ConfigStatus, when set, returns the document published retained on
	// <prefix>/<id>/config/status at every connection and on
	// ConfigStatusChanged; nil publishes nothing.
	ConfigStatus func() []byte
}

// State is a snapshot of the publisher's connection and counters.
type State struct {
	Connected  bool      // connected to the broker
	Since      time.Time // when Connected last changed; zero before the first attempt
	LastError  string    // the last connection or buffer error; empty if none
	Published  uint64    // batch publishes, including publishes again after a reconnect
	Acked      uint64    // batches acknowledged by the broker and acked to the source
	Reconnects uint64    // successful connections after the first one
}

// Publisher publishes the buffer's batches to the broker. Create it with
// New, run it with Run, and call Notify when a batch was sealed.
type Publisher struct {
	cfg         Config
	dial        string
	tls         *tls.Config
	src         Source
	deps        Deps
	log         *slog.Logger
	dataPrefix  string
	auditTopic  string
	configSet   string
	configStat  string
	cur         paho.Client // the connected client, nil between connections; guarded by mu
	healthTopic string
	notify      chan struct{}
	running     atomic.Bool

	mu          sync.Mutex
	st          State
	connections uint64
}

type flight struct {
	seq   uint64
	topic string
	tok   paho.Token
}

// New checks cfg, loads the TLS material and returns a Publisher that reads
// from src. It does not connect.
func New(cfg Config, src Source, deps Deps) (*Publisher, error) {
	dial, host, err := mqtt.BrokerURL(cfg.Broker)
	if err != nil {
		return nil, err
	}
	if src == nil {
		return nil, errors.New("uplink: nil source")
	}
	if deps.Marshal == nil {
		return nil, errors.New("uplink: nil marshal function")
	}
	if err := checkLevels("topic prefix", cfg.TopicPrefix, true); err != nil {
		return nil, err
	}
	if err := checkLevels("gateway id", cfg.GatewayID, false); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		cfg.ClientID = cfg.GatewayID
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = mqtt.DefaultKeepAlive
	}
	if cfg.KeepAlive < time.Second || cfg.KeepAlive > 65535*time.Second {
		return nil, fmt.Errorf("uplink: keep alive %v outside 1s..18h12m15s", cfg.KeepAlive)
	}
	if cfg.Inflight == 0 {
		cfg.Inflight = DefaultInflight
	}
	if cfg.Inflight < 1 || cfg.Inflight > maxInflight {
		return nil, fmt.Errorf("uplink: inflight %d outside 1..%d", cfg.Inflight, maxInflight)
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = DefaultBackoffMin
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = max(DefaultBackoffMax, cfg.BackoffMin)
	}
	if cfg.BackoffMin < 0 || cfg.BackoffMax < cfg.BackoffMin {
		return nil, fmt.Errorf("uplink: backoff %v..%v: want 0 < min <= max", cfg.BackoffMin, cfg.BackoffMax)
	}
	if cfg.HealthInterval == 0 {
		cfg.HealthInterval = DefaultHealthInterval
	}
	tc, err := mqtt.TLSConfig(cfg.Broker, host, cfg.CA, cfg.Cert, cfg.Key)
	if err != nil {
		return nil, err
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if deps.Rand == nil {
		deps.Rand = rand.Int64N
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	base := cfg.TopicPrefix + "/" + cfg.GatewayID + "/"
	return &Publisher{
		cfg:         cfg,
		dial:        dial,
		tls:         tc,
		src:         src,
		deps:        deps,
		log:         deps.Logger,
		dataPrefix:  base + "data/",
		auditTopic:  base + "audit",
		configSet:   base + "config/set",
		configStat:  base + "config/status",
		healthTopic: base + "health",
		notify:      make(chan struct{}, 1),
	}, nil
}

// checkLevels refuses empty names, wildcards and, unless multi, separators.
func checkLevels(what, s string, multi bool) error {
	switch {
	case s == "":
		return fmt.Errorf("uplink: empty %s", what)
	case strings.ContainsAny(s, "+#\x00"):
		return fmt.Errorf("uplink: %s %q contains a wildcard or nul", what, s)
	case !multi && strings.Contains(s, "/"):
		return fmt.Errorf("uplink: %s %q contains a slash", what, s)
	case multi && (strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.Contains(s, "//")):
		return fmt.Errorf("uplink: %s %q has an empty level", what, s)
	}
	return nil
}

// Notify wakes the publish loop because a batch was sealed. It never blocks.
func (p *Publisher) Notify() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// State returns a snapshot of the connection state and counters.
func (p *Publisher) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// HealthTopic returns the topic of the retained health document,
// <prefix>/<id>/health.
func (p *Publisher) HealthTopic() string { return p.healthTopic }

// DataTopic returns the topic batches of class are published to:
// <prefix>/<id>/data/<class>, except audit records, which go to
// <prefix>/<id>/audit.
func (p *Publisher) DataTopic(class string) string {
	if class == buffer.AuditClass {
		return p.auditTopic
	}
	return p.dataPrefix + class
}

// Run connects, publishes and reconnects until ctx is done, then publishes
// the retained offline health, disconnects within a few seconds and returns
// nil. It returns an error wrapping ErrInvalidBatch when the source hands out
// a batch that cannot be published. Run may be called only once.
func (p *Publisher) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("uplink: run called twice")
	}
	attempt := 0
	failing := false
	for {
		c, lost, err := p.connect(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			attempt, failing = 0, false
			err = p.session(ctx, c, lost)
			if errors.Is(err, ErrInvalidBatch) {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			p.setState(false, err)
			p.log.Warn("connection lost", "addr", p.cfg.Broker, "err", err)
		} else {
			p.setState(false, err)
			if failing {
				p.log.Debug("connect failed", "addr", p.cfg.Broker, "err", err)
			} else {
				p.log.Warn("connect failed", "addr", p.cfg.Broker, "err", err)
			}
			failing = true
		}
		d := backoffDelay(attempt, p.cfg.BackoffMin, p.cfg.BackoffMax, p.deps.Rand)
		attempt++
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// backoffDelay returns the full-jitter delay before reconnect attempt
// (0-based): uniform in [0, min(max, min*2^attempt)].
func backoffDelay(attempt int, lo, hi time.Duration, rnd func(int64) int64) time.Duration {
	ceil := hi
	if attempt < 63 && lo <= hi>>uint(attempt) {
		ceil = lo << uint(attempt)
	}
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rnd(int64(ceil) + 1))
}

func (p *Publisher) setState(connected bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st.Connected != connected || p.st.Since.IsZero() {
		p.st.Connected = connected
		p.st.Since = p.deps.Now()
	}
	if err != nil {
		p.st.LastError = err.Error()
	}
	if connected {
		p.connections++
		if p.connections > 1 {
			p.st.Reconnects++
		}
	}
}

func (p *Publisher) count(published, acked int) {
	p.mu.Lock()
	p.st.Published += uint64(published)
	p.st.Acked += uint64(acked)
	p.mu.Unlock()
}

func (p *Publisher) setError(err error) {
	p.mu.Lock()
	p.st.LastError = err.Error()
	p.mu.Unlock()
}

// connect makes one connection attempt. lost receives the error when the
// connection drops afterwards.
func (p *Publisher) connect(ctx context.Context) (paho.Client, <-chan error, error) {
	lost := make(chan error, 1)
	opts := paho.NewClientOptions().
		AddBroker(p.dial).
		SetClientID(p.cfg.ClientID).
		SetTLSConfig(p.tls).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetOrderMatters(true).
		SetKeepAlive(p.cfg.KeepAlive).
		SetPingTimeout(min(p.cfg.KeepAlive, 10*time.Second)).
		SetConnectTimeout(mqtt.ConnectTimeout).
		SetWriteTimeout(mqtt.WriteTimeout).
		SetBinaryWill(p.healthTopic, offlineDoc, 1, true).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	c := paho.NewClient(opts)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		c.Disconnect(0)
		return nil, nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, nil, fmt.Errorf("uplink: connect to %s: %w", p.cfg.Broker, err)
	}
	return c, lost, nil
}

// session publishes over connected client c until ctx is done (graceful
// stop), the connection is lost or a publish fails. The cursor starts at 0
// so that every batch still in the source, acknowledged or not by a previous
// connection, is published again.
func (p *Publisher) session(ctx context.Context, c paho.Client, lost <-chan error) (err error) {
	p.setState(true, nil)
	p.log.Info("connected", "addr", p.cfg.Broker, "topic", p.healthTopic)
	var inflight []flight
	defer func() {
		if ctx.Err() != nil || errors.Is(err, ErrInvalidBatch) {
			p.stop(c, inflight)
			return
		}
		if c.IsConnectionOpen() {
			c.Disconnect(0)
		}
	}()
	p.publishHealth(c)
	p.fleet(c)
	defer p.setClient(nil)

	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	var healthC <-chan time.Time
	if p.cfg.HealthInterval > 0 {
		ht := time.NewTicker(p.cfg.HealthInterval)
		defer ht.Stop()
		healthC = ht.C
	}

	// Batches are published in sequence order, but may close out of it: a
	// class's batch stays open while a later number of another class (or an
	// audit record) closes. So cursor follows what was read, and every
	// Notify or poll rescans from the start, skipping what this session has
	// already published (acknowledged deletions may not be committed yet).
	var cursor uint64
	sent := map[uint64]struct{}{}
	rescan := false
	exhausted := false // the source had nothing after cursor; wait for Notify or poll
	sinceDrain := 0    // batches published since the source was last seen drained
	backlog := true    // the first drain of a connection is worth an Info line
	for {
		if rescan {
			cursor, rescan = 0, false
		}
		for !exhausted && len(inflight) < p.cfg.Inflight {
			want := p.cfg.Inflight - len(inflight)
			batches, err := p.src.Next(cursor, want)
			if err != nil {
				p.setError(err)
				p.log.Warn("buffer read failed", "err", err)
				exhausted = true
				break
			}
			if cursor == 0 && len(batches) > 0 {
				for seq := range sent { // gone from the source: acknowledged and committed
					if seq < batches[0].Seq {
						delete(sent, seq)
					}
				}
			}
			published := 0
			for _, b := range batches {
				if b.Seq <= cursor {
					return fmt.Errorf("uplink: batch %d after %d: %w: out of order", b.Seq, cursor, ErrInvalidBatch)
				}
				cursor = b.Seq
				if _, done := sent[b.Seq]; done {
					continue
				}
				if strings.ContainsAny(b.Class, "/+#\x00") || b.Class == "" {
					return fmt.Errorf("uplink: batch %d: %w: class %q", b.Seq, ErrInvalidBatch, b.Class)
				}
				topic := p.DataTopic(b.Class)
				tok := c.Publish(topic, 1, false, p.deps.Marshal(b))
				inflight = append(inflight, flight{seq: b.Seq, topic: topic, tok: tok})
				sent[b.Seq] = struct{}{}
				published++
				p.log.Debug("batch published", "topic", topic, "seq", b.Seq)
			}
			p.count(published, 0)
			sinceDrain += published
			if len(batches) < want {
				exhausted = true
			}
		}
		if exhausted && sinceDrain > 0 && len(inflight) == 0 {
			// Info after a backlog only, not for every batch sealed in
			// steady state.
			if backlog || sinceDrain > p.cfg.Inflight {
				p.log.Info("buffer drained", "seq", cursor)
			} else {
				p.log.Debug("buffer drained", "seq", cursor)
			}
			sinceDrain, backlog = 0, false
		}

		var head <-chan struct{}
		if len(inflight) > 0 {
			head = inflight[0].tok.Done()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-lost:
			return fmt.Errorf("uplink: connection to %s lost: %w", p.cfg.Broker, err)
		case <-head:
			var n int
			n, err = p.ackDone(inflight)
			inflight = inflight[n:]
			if err != nil {
				return err
			}
		case <-p.notify:
			exhausted, rescan = false, true
		case <-poll.C:
			exhausted, rescan = false, true
		case <-healthC:
			p.publishHealth(c)
		}
	}
}

// ackDone acknowledges to the source the leading run of completed publishes
// and returns its length. It returns the error of the first failed publish
// of that run, after acknowledging the ones before it.
func (p *Publisher) ackDone(inflight []flight) (int, error) {
	var seqs []uint64
	var failed error
	for _, f := range inflight {
		if !isDone(f.tok) {
			break
		}
		if err := f.tok.Error(); err != nil {
			failed = fmt.Errorf("uplink: publish batch %d to %s on %s: %w", f.seq, f.topic, p.cfg.Broker, err)
			break
		}
		seqs = append(seqs, f.seq)
	}
	if len(seqs) > 0 {
		if err := p.src.Ack(seqs...); err != nil {
			// The batches stay in the buffer and go out again after the
			// next reconnect: a duplicate, not a loss.
			p.setError(err)
			p.log.Warn("buffer ack failed", "seq", seqs[0], "err", err)
		} else {
			p.count(0, len(seqs))
		}
	}
	return len(seqs), failed
}

func isDone(t paho.Token) bool {
	select {
	case <-t.Done():
		return true
	default:
		return false
	}
}

// stop is the graceful end of a session: retained offline health, the
// acknowledgements that arrived meanwhile, and a clean disconnect, all
// bounded by stopTimeout.
func (p *Publisher) stop(c paho.Client, inflight []flight) {
	tok := c.Publish(p.healthTopic, 1, true, offlineDoc)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			p.log.Warn("offline health publish failed", "topic", p.healthTopic, "err", err)
		}
	case <-t.C:
		p.log.Warn("offline health publish timed out", "topic", p.healthTopic)
	}
	p.ackDone(inflight)
	c.Disconnect(mqtt.Quiesce)
	p.setState(false, nil)
	p.log.Info("disconnected", "addr", p.cfg.Broker)
}

// publishHealth publishes the retained online health document without
// waiting for its acknowledgement.
// fleet subscribes to config/set and publishes the config status on a new
// connection c, and makes c the one ConfigStatusChanged publishes on.
func (p *Publisher) fleet(c paho.Client) {
	if p.deps.OnConfig != nil {
		c.Subscribe(p.configSet, 1, func(_ paho.Client, m paho.Message) { p.deps.OnConfig(m.Payload()) })
	}
	p.setClient(c)
	p.ConfigStatusChanged()
}

func (p *Publisher) setClient(c paho.Client) {
	p.mu.Lock()
	p.cur = c
	p.mu.Unlock()
}

// ConfigStatusChanged publishes Deps.ConfigStatus retained now, when
// connected; otherwise it goes out at the next connection.
func (p *Publisher) ConfigStatusChanged() {
	if p.deps.ConfigStatus == nil {
		return
	}
	p.mu.Lock()
	c := p.cur
	p.mu.Unlock()
	if doc := p.deps.ConfigStatus(); c != nil && doc != nil {
		c.Publish(p.configStat, 1, true, doc)
	}
}

func (p *Publisher) publishHealth(c paho.Client) {
	c.Publish(p.healthTopic, 1, true, p.healthDoc())
}

// healthDoc merges Deps.Health with "state":"online".
func (p *Publisher) healthDoc() []byte {
	doc := map[string]any{}
	if p.deps.Health != nil {
		if h := p.deps.Health(); h != nil {
			b, err := json.Marshal(h)
			if err == nil {
				err = json.Unmarshal(b, &doc)
			}
			if err != nil {
				p.log.Warn("health document not a json object", "topic", p.healthTopic, "err", err)
				doc = map[string]any{}
			}
		}
	}
	doc["state"] = "online"
	b, err := json.Marshal(doc)
	if err != nil { // cannot happen: the map came from JSON
		return []byte(`{"state":"online"}`)
	}
	return b
}
