package uplink

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/receipt"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/topic"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultInflight allows ~1,000 batches/s (100,000 readings/s) over a
	// 100 ms round trip, and matches AWS IoT Core's limit of 100
	// unacknowledged QoS 1 messages per client.
	DefaultInflight   = 100
	DefaultBackoffMin = time.Second
	// DefaultBackoffMax caps the reconnect backoff. With full jitter a
	// broker that returns after a long outage is tried again within about
	// 3 s (median), while a fleet's reconnects stay spread over 10 s.
	DefaultBackoffMax     = 10 * time.Second
	DefaultHealthInterval = time.Minute
	// DefaultReceiptTimeout is how long a published batch waits for a
	// receipt before it is published again.
	DefaultReceiptTimeout = time.Minute
	// DefaultUnreceipted lets a drain reach 250,000 readings/s when
	// receipts come back 400 ms after a publish (the backend coalesces them
	// to one per 200 ms) with 100 readings a batch, and keeps one gateway's
	// backlog within Mosquitto's default max_queued_messages (1000) for the
	// backend's session.
	DefaultUnreceipted = 1000
)

const (
	// pollInterval is the safety net that looks for new batches even when
	// nobody called Notify. The agent's buffer notifies each closed batch,
	// so the net can be coarse; every rescan is a read transaction.
	pollInterval = 5 * time.Second
	// retryInterval is the wait before reading the buffer again after a
	// read failed.
	retryInterval = time.Second
	// stopTimeout bounds the graceful stop: the offline health publish and
	// its PUBACK.
	stopTimeout = 5 * time.Second
	// maxInflight is the largest window MQTT packet identifiers allow.
	maxInflight = 65535
	// maxRepublishDelay caps the doubling wait of a batch published again
	// without a receipt (never below Config.ReceiptTimeout).
	maxRepublishDelay = 10 * time.Minute
	// warnEvery rate-limits warnings that repeat while a fault lasts.
	warnEvery = time.Minute
	// receiptQueue is how many received receipts wait for the publish loop;
	// more are dropped, which a later receipt or a republish makes up for.
	receiptQueue = 64
	// readAhead is the fewest batches one read of the source asks for.
	readAhead = 64
)

// Reasons a receipt is rejected: the keys of ReceiptState.Rejected.
const (
	RejectMalformed    = "malformed"     // not a well-formed receipt
	RejectUntrusted    = "untrusted"     // not signed by a pinned ingest key
	RejectBadSignature = "bad-signature" // a pinned key id, but the signature does not verify
	RejectForeign      = "foreign"       // a valid receipt for another gateway
	RejectStale        = "stale"         // Through below the highest Through already accepted
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
	// Receipts are the pinned public identities of the backend's ingest
	// service. When set, the Publisher subscribes to <prefix>/<id>/receipt
	// on every connection and acknowledges a batch to the source (deletes
	// it) only when a receipt signed by one of them covers it; a PUBACK then
	// only frees the in-flight window. When empty, a batch is acknowledged
	// on its PUBACK.
	Receipts []keys.PublicIdentity
	// ReceiptTimeout is how long a published batch waits for a receipt
	// before it is published again; each further republish of it waits
	// twice as long, up to 10 minutes. DefaultReceiptTimeout when zero.
	ReceiptTimeout time.Duration
	// Unreceipted bounds the batches published and not yet covered by a
	// receipt, 1 to 65535; DefaultUnreceipted when zero.
	Unreceipted int
	// AllowCertMismatch lets the client certificate's common name differ
	// from GatewayID. The broker's ACL then drops the gateway's publishes:
	// only tests of that failure set it.
	AllowCertMismatch bool
}

// Source is where the Publisher takes batches from and acknowledges them.
// buffer.Store satisfies it.
type Source interface {
	// Next returns up to max closed batches with a sequence number greater
	// than after, in ascending order.
	Next(after uint64, max int) ([]buffer.Batch, error)
	// Ack deletes delivered batches: covered by a receipt or, without
	// receipt keys, acknowledged by the broker.
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
	LastError  string    // the last connection or buffer error since the last connection; empty if none
	NextRetry  time.Time // when the next connection attempt starts; zero while connected
	Published  uint64    // batch publishes, including publishes again
	Acked      uint64    // batch publishes the broker acknowledged (PUBACK)
	Reconnects uint64    // successful connections after the first one
	// Takeover explains, while it lasts, the pattern of another client
	// taking the broker session with this client id; empty otherwise.
	Takeover string
	Receipts ReceiptState
}

// ReceiptState is what receipts have done; all zero without receipt keys.
type ReceiptState struct {
	Enabled             bool              // receipt keys are pinned: batches are deleted on receipts, not on PUBACK
	Accepted            uint64            // receipts verified and applied
	Rejected            map[string]uint64 // receipts refused, by reason (the Reject constants); nil when none
	Last                receipt.Receipt   // the last receipt accepted, Signer set; zero before the first
	LastAt              time.Time         // when it was accepted here
	Receipted           uint64            // batches deleted from the source because a receipt covered them
	Republished         uint64            // publishes again of batches not receipted within the receipt timeout
	Unreceipted         int               // batches published and not yet covered by a receipt
	UnreceiptedReadings int64             // readings in them
	OldestUnreceipted   time.Time         // first publish of the oldest of them; zero when none
}

// Publisher publishes the buffer's batches to the broker. Create it with
// New, run it with Run, and call Notify when a batch was sealed.
type Publisher struct {
	cfg          Config
	dial         string
	tls          *tls.Config
	src          Source
	deps         Deps
	log          *slog.Logger
	configSet    string
	configStat   string
	cur          paho.Client // the connected client, nil between connections; guarded by mu
	healthTopic  string
	receiptTopic string
	notify       chan struct{}
	receipts     chan []byte // receipts as received, for the publish loop
	running      atomic.Bool

	// Owned by Run's goroutine; entries are added to and removed from track
	// under mu, so that State may read them.
	track         map[uint64]*entry   // published and not yet acknowledged to the source
	gone          map[uint64]struct{} // acknowledged to the source, the deletion perhaps not committed
	through       uint64              // the highest Through of the receipts accepted
	nextDue       time.Time           // the earliest a tracked batch may be due for a republish
	connWarn      every
	takeover      takeover // touched by Run only
	receiptWarn   every
	republishWarn every

	mu          sync.Mutex
	st          State
	connections uint64
}

type flight struct {
	seq   uint64
	topic string
	tok   paho.Token
}

// entry is a published batch not yet acknowledged to the source.
type entry struct {
	readings int       // readings in the batch; set before it is tracked
	first    time.Time // its first publish; set before it is tracked
	due      time.Time // with receipts: when it is published again unless a receipt covers it
	retries  int       // publishes again after the receipt timeout
	flying   bool      // published on the current connection, no PUBACK yet
	resend   bool      // published on an earlier connection without a PUBACK: publish again now
}

// every lets one event through per period: a rate limit for warnings.
type every struct {
	period time.Duration
	last   time.Time
}

// allow reports whether an event at now may pass, and if so records it.
func (e *every) allow(now time.Time) bool {
	if d := now.Sub(e.last); !e.last.IsZero() && d >= 0 && d < e.period {
		return false // a clock that went back lets the next one through
	}
	e.last = now
	return true
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
	if err := topic.CheckPrefix(cfg.TopicPrefix); err != nil {
		return nil, fmt.Errorf("uplink: %w", err)
	}
	if err := topic.CheckLevel("gateway id", cfg.GatewayID); err != nil {
		return nil, fmt.Errorf("uplink: %w", err)
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
	if cfg.ReceiptTimeout == 0 {
		cfg.ReceiptTimeout = DefaultReceiptTimeout
	}
	if cfg.ReceiptTimeout < 0 {
		return nil, fmt.Errorf("uplink: receipt timeout %v: want > 0", cfg.ReceiptTimeout)
	}
	if cfg.Unreceipted == 0 {
		cfg.Unreceipted = DefaultUnreceipted
	}
	if cfg.Unreceipted < 1 || cfg.Unreceipted > maxInflight {
		return nil, fmt.Errorf("uplink: unreceipted %d outside 1..%d", cfg.Unreceipted, maxInflight)
	}
	tc, err := mqtt.TLSConfig(cfg.Broker, host, cfg.CA, cfg.Cert, cfg.Key)
	if err != nil {
		return nil, err
	}
	if err := checkCertificate(cfg, tc); err != nil {
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
	prefix, id := cfg.TopicPrefix, cfg.GatewayID
	p := &Publisher{
		cfg:           cfg,
		dial:          dial,
		tls:           tc,
		src:           src,
		deps:          deps,
		log:           deps.Logger,
		configSet:     topic.ConfigSet(prefix, id),
		configStat:    topic.ConfigStatus(prefix, id),
		healthTopic:   topic.Health(prefix, id),
		receiptTopic:  topic.Receipt(prefix, id),
		notify:        make(chan struct{}, 1),
		receipts:      make(chan []byte, receiptQueue),
		track:         map[uint64]*entry{},
		gone:          map[uint64]struct{}{},
		connWarn:      every{period: warnEvery},
		receiptWarn:   every{period: warnEvery},
		republishWarn: every{period: warnEvery},
	}
	p.st.Receipts.Enabled = p.receiptsOn()
	return p, nil
}

// checkCertificate refuses a client certificate whose common name is not
// the gateway id, unless cfg allows it: the broker knows the gateway by that
// name, and its ACL would drop every publish under another.
func checkCertificate(cfg Config, tc *tls.Config) error {
	leaf := tc.Certificates[0].Leaf
	if leaf == nil || leaf.Subject.CommonName == cfg.GatewayID || cfg.AllowCertMismatch {
		return nil
	}
	cn := leaf.Subject.CommonName
	return fmt.Errorf("uplink: %w: %s is issued to %q but the gateway id is %q: the broker would drop every publish under its ACL; issue the certificate with CN %s",
		ErrCertMismatch, cfg.Cert, cn, cfg.GatewayID, cfg.GatewayID)
}

// receiptsOn reports whether batches are deleted on receipts.
func (p *Publisher) receiptsOn() bool { return len(p.cfg.Receipts) > 0 }

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
	st := p.st
	r := &st.Receipts
	r.Rejected = maps.Clone(r.Rejected)
	r.Last.Ranges = slices.Clone(r.Last.Ranges)
	if r.Enabled {
		r.Unreceipted = len(p.track)
		for _, e := range p.track {
			r.UnreceiptedReadings += int64(e.readings)
			if r.OldestUnreceipted.IsZero() || e.first.Before(r.OldestUnreceipted) {
				r.OldestUnreceipted = e.first
			}
		}
	}
	return st
}

// DataTopic returns the topic batches of class are published to:
// <prefix>/<id>/data/<class>, except audit records, which go to
// <prefix>/<id>/audit.
func (p *Publisher) DataTopic(class string) string {
	return topic.Batch(p.cfg.TopicPrefix, p.cfg.GatewayID, class)
}

// Run connects, publishes and reconnects until ctx is done, then publishes
// the retained offline health, disconnects within a few seconds and returns
// nil. It returns an error wrapping ErrInvalidBatch when the source hands out
// a batch that cannot be published. Run may be called only once.
func (p *Publisher) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("uplink: run called twice")
	}
	if !p.receiptsOn() {
		p.log.Warn("no receipt keys pinned: a batch is deleted on the broker's PUBACK, so a broker crash, a full broker queue or an ACL-denied publish loses it", "topic", p.receiptTopic)
	}
	attempt := 0
	for {
		c, lost, err := p.connect(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			atOnce := attempt <= 1 // no failed attempt since the last session
			attempt = 0
			p.connWarn.last = time.Time{}
			start := p.deps.Now()
			err = p.session(ctx, c, lost)
			if errors.Is(err, ErrInvalidBatch) {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			p.setState(false, err)
			p.log.Warn("connection lost", "addr", p.cfg.Broker, "err", err)
			p.sessionEnded(p.deps.Now().Sub(start), errors.Is(err, errLost), atOnce)
		} else {
			p.setState(false, err)
			if p.connWarn.allow(p.deps.Now()) {
				p.log.Warn("connect failed", "addr", p.cfg.Broker, "err", err)
			} else {
				p.log.Debug("connect failed", "addr", p.cfg.Broker, "err", err)
			}
		}
		d := backoffDelay(attempt, p.cfg.BackoffMin, p.cfg.BackoffMax, p.deps.Rand)
		if p.takeover.suspect != "" {
			d = max(d, p.cfg.BackoffMax) // let the other client be: flap slowly
		}
		attempt++
		p.setRetry(p.deps.Now().Add(d))
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
		p.st.LastError = ""
		p.st.NextRetry = time.Time{}
		p.connections++
		if p.connections > 1 {
			p.st.Reconnects++
		}
	}
}

// sessionEnded feeds the takeover pattern with a session that lasted d,
// was lost (the broker closed it) and was made at once, and says so when
// the pattern is found.
func (p *Publisher) sessionEnded(d time.Duration, lost, atOnce bool) {
	if p.takeover.ended(p.cfg.ClientID, d, lost, atOnce) {
		p.log.Error("another client is taking this gateway's broker session", "addr", p.cfg.Broker, "err", errors.New(p.takeover.suspect))
	}
	p.mu.Lock()
	p.st.Takeover = p.takeover.suspect
	p.mu.Unlock()
}

func (p *Publisher) setRetry(at time.Time) {
	p.mu.Lock()
	p.st.NextRetry = at
	p.mu.Unlock()
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
// stop), the connection is lost or a publish fails. Every batch in the
// source that this Publisher has not published, or published on an earlier
// connection without a PUBACK, is published on this one; with receipts,
// batches the broker acknowledged keep waiting for their receipt.
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
	var sub paho.Token
	var subDone <-chan struct{}
	if p.receiptsOn() {
		sub = c.Subscribe(p.receiptTopic, 1, func(_ paho.Client, m paho.Message) {
			select {
			case p.receipts <- m.Payload():
			default:
				p.log.Debug("receipt dropped: too many waiting", "topic", m.Topic())
			}
		})
		subDone = sub.Done()
	}
	p.publishHealth(c)
	p.fleet(c)
	defer p.setClient(nil)
	p.reconnected()

	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	var healthC <-chan time.Time
	if p.cfg.HealthInterval > 0 {
		ht := time.NewTicker(p.cfg.HealthInterval)
		defer ht.Stop()
		healthC = ht.C
	}
	due := time.NewTimer(time.Hour) // Reset discards a fire not taken (Go 1.23 timers)
	defer due.Stop()

	// Batches are published in sequence order, but may close out of it: a
	// class's batch stays open while a later number of another class (or an
	// audit record) closes. So cursor follows what was read, and every
	// Notify or poll rescans from the start, skipping what is tracked or
	// gone (acknowledged deletions may not be committed yet).
	var cursor uint64
	rescan := false
	exhausted := false // the source had nothing after cursor; wait for Notify or poll
	sinceDrain := 0    // batches published since the source was last seen drained
	backlog := true    // the first drain of a connection is worth an Info line
	for {
		if rescan {
			cursor, rescan = 0, false
		}
		if err := p.republish(c, &inflight); err != nil {
			return err
		}
		for !exhausted && p.room(len(inflight)) > 0 {
			room := p.room(len(inflight))
			batches, err := p.src.Next(cursor, max(room, readAhead))
			if err != nil {
				p.setError(err)
				p.log.Warn("buffer read failed", "err", err)
				exhausted = true
				break
			}
			if cursor == 0 {
				p.prune(batches)
			}
			exhausted = len(batches) < max(room, readAhead)
			for _, b := range batches {
				if b.Seq <= cursor {
					return fmt.Errorf("uplink: batch %d after %d: %w: out of order", b.Seq, cursor, ErrInvalidBatch)
				}
				if p.known(b.Seq) {
					cursor = b.Seq
					continue
				}
				if room == 0 {
					exhausted = false // read again from cursor when there is room
					break
				}
				f, err := p.send(c, b)
				if err != nil {
					return err
				}
				inflight = append(inflight, f)
				p.trackNew(b)
				cursor = b.Seq
				room--
				sinceDrain++
			}
		}
		if exhausted && sinceDrain > 0 && len(inflight) == 0 && (!p.receiptsOn() || len(p.track) == 0) {
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
		var dueC <-chan time.Time
		if p.receiptsOn() && len(p.track) > 0 && len(inflight) < p.cfg.Inflight {
			// A full window waits for PUBACKs, which wake the loop anyway.
			due.Reset(max(0, p.nextDue.Sub(p.deps.Now())))
			dueC = due.C
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-lost:
			return fmt.Errorf("uplink: connection to %s %w: %w", p.cfg.Broker, errLost, err)
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
		case data := <-p.receipts:
			p.applyReceipt(data)
			exhausted = false
		case <-subDone:
			p.checkSubscription(sub)
			subDone = nil
		case <-dueC:
		}
	}
}

// room returns how many new batches may be published now: the in-flight
// window left and, with receipts, the unreceipted bound left.
func (p *Publisher) room(flying int) int {
	n := p.cfg.Inflight - flying
	if p.receiptsOn() {
		n = min(n, p.cfg.Unreceipted-len(p.track))
	}
	return max(n, 0)
}

// known reports whether seq is tracked or gone: not to be published anew.
func (p *Publisher) known(seq uint64) bool {
	if _, ok := p.track[seq]; ok {
		return true
	}
	_, ok := p.gone[seq]
	return ok
}

// send publishes b, refusing a class that is not a single topic level.
func (p *Publisher) send(c paho.Client, b buffer.Batch) (flight, error) {
	if topic.CheckLevel("data class", b.Class) != nil {
		return flight{}, fmt.Errorf("uplink: batch %d: %w: class %q", b.Seq, ErrInvalidBatch, b.Class)
	}
	t := p.DataTopic(b.Class)
	tok := c.Publish(t, 1, false, p.deps.Marshal(b))
	p.count(1, 0)
	p.log.Debug("batch published", "topic", t, "seq", b.Seq)
	return flight{seq: b.Seq, topic: t, tok: tok}, nil
}

// trackNew tracks b, just published for the first time.
func (p *Publisher) trackNew(b buffer.Batch) {
	now := p.deps.Now()
	e := &entry{readings: b.Readings, first: now, due: now.Add(p.cfg.ReceiptTimeout), flying: true}
	p.mu.Lock()
	p.track[b.Seq] = e
	p.mu.Unlock()
}

// untrack forgets seqs; those acknowledged to the source are gone.
func (p *Publisher) untrack(acked bool, seqs ...uint64) {
	p.mu.Lock()
	for _, seq := range seqs {
		delete(p.track, seq)
	}
	p.mu.Unlock()
	if acked {
		for _, seq := range seqs {
			p.gone[seq] = struct{}{}
		}
	}
}

// prune is given what the source holds from its first batch on: tracked
// and gone numbers below that first batch have left the source (deleted,
// or dropped by its limits and reported in a gap record).
func (p *Publisher) prune(batches []buffer.Batch) {
	below := func(seq uint64) bool { return len(batches) == 0 || seq < batches[0].Seq }
	for seq := range p.gone {
		if below(seq) {
			delete(p.gone, seq)
		}
	}
	var left []uint64
	for seq := range p.track {
		if below(seq) {
			left = append(left, seq)
		}
	}
	p.untrack(false, left...)
}

// reconnected prepares the tracked batches for a new connection. Without
// receipts they are forgotten, so they are published again like any batch
// still in the source; with receipts, those without a PUBACK are published
// again now, and the others keep waiting for their receipt.
func (p *Publisher) reconnected() {
	if !p.receiptsOn() {
		p.untrack(false, slices.Collect(maps.Keys(p.track))...)
		return
	}
	for _, e := range p.track {
		if e.flying {
			e.flying, e.resend = false, true
		}
	}
	p.nextDue = time.Time{}
}

// republish publishes again, oldest first and as far as the in-flight
// window allows, the tracked batches that are due: published on an earlier
// connection without a PUBACK, or not covered by a receipt in time.
func (p *Publisher) republish(c paho.Client, inflight *[]flight) error {
	now := p.deps.Now()
	if !p.receiptsOn() || len(p.track) == 0 || now.Before(p.nextDue) {
		return nil
	}
	var seqs []uint64
	for seq, e := range p.track {
		if !e.flying && (e.resend || !now.Before(e.due)) {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	for _, seq := range seqs {
		if len(*inflight) >= p.cfg.Inflight {
			break
		}
		bs, err := p.src.Next(seq-1, 1)
		if err != nil {
			p.setError(err)
			p.log.Warn("buffer read failed", "seq", seq, "err", err)
			p.nextDue = now.Add(retryInterval) // try again later, not in a loop
			return nil
		}
		if len(bs) == 0 || bs[0].Seq != seq {
			p.untrack(false, seq) // dropped by the buffer's limits; its gap record tells the backend
			continue
		}
		f, err := p.send(c, bs[0])
		if err != nil {
			return err
		}
		*inflight = append(*inflight, f)
		e := p.track[seq]
		if !e.resend {
			e.retries++
			p.mu.Lock()
			p.st.Receipts.Republished++
			p.mu.Unlock()
			if p.republishWarn.allow(now) {
				p.log.Warn("no receipt within the receipt timeout: publishing again", "seq", seq, "topic", p.receiptTopic)
			}
		}
		e.flying, e.resend = true, false
		e.due = now.Add(republishDelay(e.retries, p.cfg.ReceiptTimeout))
	}
	p.nextDue = time.Time{}
	first := true
	for _, e := range p.track {
		at := e.due
		if e.resend {
			at = now
		}
		if !e.flying && (first || at.Before(p.nextDue)) {
			p.nextDue, first = at, false
		}
	}
	if first { // every tracked batch is in flight: its PUBACK sets nextDue
		p.nextDue = now.Add(p.cfg.ReceiptTimeout)
	}
	return nil
}

// republishDelay is how long a batch published again for the retries-th
// time waits for its receipt: the timeout, doubled for each republish, up to
// maxRepublishDelay (or the timeout, when that is longer).
func republishDelay(retries int, timeout time.Duration) time.Duration {
	ceil := max(maxRepublishDelay, timeout)
	d := timeout
	for range retries {
		if d >= ceil/2 {
			return ceil
		}
		d *= 2
	}
	return d
}

// ackDone handles the leading run of completed publishes and returns its
// length. Without receipts it acknowledges them to the source; with
// receipts a PUBACK only frees the window. It returns the error of the
// first failed publish of that run, after handling the ones before it.
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
	if len(seqs) == 0 {
		return 0, failed
	}
	p.count(0, len(seqs))
	for _, seq := range seqs {
		if e := p.track[seq]; e != nil {
			e.flying = false
			if p.receiptsOn() && e.due.Before(p.nextDue) {
				p.nextDue = e.due
			}
		}
	}
	if p.receiptsOn() {
		return len(seqs), failed
	}
	if err := p.src.Ack(seqs...); err != nil {
		// The batches stay in the buffer (and tracked, so not published
		// again on this connection) and go out again after the next
		// reconnect: a duplicate, not a loss.
		p.setError(err)
		p.log.Warn("buffer ack failed", "seq", seqs[0], "err", err)
	} else {
		p.untrack(true, seqs...)
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
// acknowledgements and receipts that arrived meanwhile, and a clean
// disconnect, all bounded by stopTimeout.
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
	for len(p.receipts) > 0 {
		p.applyReceipt(<-p.receipts)
	}
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
