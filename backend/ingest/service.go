package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/fleetweb"
	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/receipt"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/topic"
)

const (
	// queueSize bounds the envelopes received and not yet committed. When
	// it is full the MQTT handler waits, so the broker holds the rest.
	queueSize = 4096
	// retryMax caps the wait between attempts to commit while the
	// database is unreachable.
	retryMax = 5 * time.Second
	// stopTimeout bounds the final commit and receipts at shutdown.
	stopTimeout = 10 * time.Second
	// publishers is the number of receipts published at once.
	publishers = 16
)

// ReasonUnstorable is the reject reason of a verified batch the database
// cannot hold as given (store.ErrInvalid). It gets no receipt, so the
// gateway keeps it and reports it in its status.
const ReasonUnstorable = "unstorable"

// Deps holds what a Service needs besides its configuration.
type Deps struct {
	Store  store.Store    // the database, migrated; required
	Opener backend.Opener // the pinned gateway keys and recipient keys
	Signer *keys.Identity // the ingest identity that signs receipts; required
	Logger *slog.Logger   // nothing is logged when nil
	Now    func() time.Time
	// Observe, when set, sees each envelope once its fate is stored: a
	// committed batch (Duplicate set when the database had it already), or
	// the error that rejected it. It must not block.
	Observe func(res backend.Result, err error)
}

// Stats counts what a Service did since it started.
type Stats struct {
	Received   uint64            // envelopes received
	Committed  uint64            // new batches committed (data, gap and audit records)
	Readings   uint64            // readings committed
	Duplicates uint64            // batches received again (answered with a receipt)
	Rejected   map[string]uint64 // envelopes rejected, by reason
	Receipts   uint64            // receipts published
	Docs       uint64            // health and configuration status documents stored
	CommitErr  string            // why the last commit failed, while commits fail
}

// Service is `edgegw ingest`: it receives envelopes from the broker, verifies
// and opens them exactly as `edgegw open` does, commits them to the database
// and publishes signed receipts for what the database holds.
type Service struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	in   chan message
	docs chan store.Doc // health and configuration status documents to store
	// Fleet computes the gateways' states from the database; Run records
	// their changes every Thresholds.Interval.
	Fleet *fleet.Fleet

	metrics *metrics

	mu       sync.Mutex
	pending  map[string][]pendingSeq // gateway -> sequence numbers to mention in its next receipt
	rejected map[string]uint64
	stats    Stats
	webURL   string // where the fleet page answers; "" when not served

	ready     chan struct{} // closed at the first subscription
	readyOnce sync.Once

	inMu     sync.RWMutex // read-held while sending to in; write-held to close it
	stopping bool         // guarded by inMu
}

// pendingSeq is a batch committed or received again, which the gateway's
// next receipt mentions.
type pendingSeq struct {
	seq      uint64
	received time.Time
}

type message struct {
	topic   string
	payload []byte
	at      time.Time
}

// New returns a Service; Run starts it.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Store == nil || deps.Signer == nil {
		return nil, errors.New("ingest: store and signer are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	s := &Service{
		cfg: cfg, deps: deps, log: deps.Logger,
		in:       make(chan message, queueSize),
		docs:     make(chan store.Doc, queueSize),
		Fleet:    &fleet.Fleet{Store: deps.Store, Thresholds: cfg.Fleet, Now: deps.Now, Logger: deps.Logger},
		ready:    make(chan struct{}),
		pending:  map[string][]pendingSeq{},
		rejected: map[string]uint64{},
	}
	s.metrics = newMetrics(s)
	return s, nil
}

// Ready is closed once the service has subscribed for the first time.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// WebURL returns the address of the fleet page and /metrics once Ready is
// closed, e.g. http://127.0.0.1:8480/; "" when the configuration serves none.
func (s *Service) WebURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webURL
}

// Stats returns a snapshot of the counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Rejected = make(map[string]uint64, len(s.rejected))
	for k, v := range s.rejected {
		st.Rejected[k] = v
	}
	return st
}

// Run subscribes and ingests until ctx is done, and serves the fleet page
// and the metrics when the configuration has http.listen. At the end it
// stops taking envelopes, commits what it holds, publishes the last receipts
// and disconnects; what it could not commit has no receipt, so the gateways
// publish it again.
func (s *Service) Run(ctx context.Context) error {
	var web *fleetweb.Server
	if s.cfg.HTTP.Enabled() {
		var err error
		web, err = fleetweb.Listen(s.cfg.HTTP, fleetweb.Deps{Fleet: s.Fleet, Metrics: s.metrics.handler(), Logger: s.log})
		if err != nil {
			return fmt.Errorf("ingest: %w", err)
		}
		s.mu.Lock()
		s.webURL = web.URL()
		s.mu.Unlock()
	}
	client, err := mqtt.Dial(ctx, mqtt.SubscribeConfig{
		Broker: s.cfg.Broker, CA: s.cfg.CA, Cert: s.cfg.Cert, Key: s.cfg.Key,
		ClientID: s.cfg.ClientID, Topics: s.cfg.Topics(),
		// The gateways publish again what no receipt covers, so the broker's
		// session state is not relied on (a shared subscription's offline
		// member may lose what was queued for it).
		CleanSession: true,
		OnSubscribe:  func() { s.readyOnce.Do(func() { close(s.ready) }) },
		Logger:       s.log,
	}, s.handle)
	if err != nil {
		if web != nil {
			web.Close()
		}
		return fmt.Errorf("ingest: %w", err)
	}
	s.log.Info("ingest started", "broker", s.cfg.Broker, "topics", s.cfg.Topics(), "signer", s.deps.Signer.ID)
	webDone := make(chan struct{})
	go func() {
		defer close(webDone)
		if web == nil {
			return
		}
		s.log.Info("fleet page served", "url", web.URL())
		if err := web.Serve(ctx); err != nil {
			s.log.Error("fleet page stopped", "err", err)
		}
	}()

	// The final work outlives ctx, bounded by stopTimeout.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		s.commitLoop(work)
	}()
	docsDone := make(chan struct{})
	go func() {
		defer close(docsDone)
		s.docLoop(work)
	}()
	fleetDone := make(chan struct{})
	go func() {
		defer close(fleetDone)
		s.fleetLoop(ctx)
	}()
	tick := time.NewTicker(s.cfg.ReceiptInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			s.flushReceipts(work, client)
			continue
		case <-ctx.Done():
		}
		break
	}
	stop := time.AfterFunc(stopTimeout, cancelWork)
	defer stop.Stop()
	s.inMu.Lock()
	s.stopping = true
	close(s.in)
	close(s.docs)
	s.inMu.Unlock()
	<-committed
	<-docsDone
	<-fleetDone
	<-webDone
	s.flushReceipts(work, client)
	client.Close()
	st := s.Stats()
	s.log.Info("ingest stopped", "received", st.Received, "committed", st.Committed, "readings", st.Readings,
		"duplicates", st.Duplicates, "receipts", st.Receipts)
	return nil
}

// handle queues one message; it waits while the queue is full, so that the
// broker keeps what the database cannot take yet.
func (s *Service) handle(topic string, payload []byte) {
	s.inMu.RLock()
	defer s.inMu.RUnlock()
	if s.stopping {
		return // no receipt: the gateway publishes it again
	}
	if gw, kind, ok := s.cfg.docTopic(topic); ok {
		s.docs <- store.Doc{Gateway: gw, Kind: kind, Received: s.deps.Now(), Body: payload}
		return
	}
	s.mu.Lock()
	s.stats.Received++
	s.mu.Unlock()
	s.in <- message{topic: topic, payload: payload, at: s.deps.Now()}
}

// docLoop stores the health and configuration status documents, up to
// MaxBatch at a time, until the queue is closed and empty. A document the
// database refuses is logged and dropped: it is state, published again at
// the next health interval, not data.
func (s *Service) docLoop(ctx context.Context) {
	for docs := range batches(s.docs, s.cfg.MaxBatch) {
		s.recordDocs(ctx, docs)
	}
}

// recordDocs stores docs, retrying while the database is unreachable.
func (s *Service) recordDocs(ctx context.Context, docs []store.Doc) {
	keep := s.cfg.Fleet.HealthHistory
	for attempt := 0; ; attempt++ {
		err := s.deps.Store.RecordDocs(ctx, docs, keep)
		if errors.Is(err, store.ErrInvalid) {
			for _, d := range docs {
				if err := s.deps.Store.RecordDocs(ctx, []store.Doc{d}, keep); err != nil {
					s.log.Warn("gateway document not stored", "gateway", d.Gateway, "kind", d.Kind, "err", err)
				} else {
					s.countDocs(1)
				}
			}
			return
		}
		if err == nil {
			s.countDocs(len(docs))
		}
		if err == nil || ctx.Err() != nil {
			return
		}
		d := min(retryMax, 100*time.Millisecond<<min(attempt, 6))
		s.log.Warn("storing gateway documents failed, retrying", "documents", len(docs), "in", d, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

// fleetLoop records the changes of the gateways' fleet states every
// Thresholds.Interval until ctx is done.
func (s *Service) fleetLoop(ctx context.Context) {
	tick := time.NewTicker(s.cfg.Fleet.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sum, changes, err := s.Fleet.Record(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("fleet states not recorded", "err", err)
			}
			continue
		}
		s.metrics.setSummary(sum)
		for _, t := range changes {
			level := slog.LevelInfo
			if t.Alert {
				level = slog.LevelWarn
			}
			s.log.Log(ctx, level, "fleet state changed", "gateway", t.Gateway, "from", t.From, "to", t.To, "alert", t.Alert, "reason", t.Reason)
		}
	}
}

// commitLoop takes up to MaxBatch queued envelopes at a time, opens them in
// parallel and commits them in one call, until the queue is closed and empty.
func (s *Service) commitLoop(ctx context.Context) {
	for msgs := range batches(s.in, s.cfg.MaxBatch) {
		s.ingest(ctx, msgs)
	}
}

// batches yields what ch holds, up to n values at a time: it waits for
// the first value of each batch and takes the others that are queued
// without waiting. It ends when ch is closed and empty.
func batches[T any](ch <-chan T, n int) iter.Seq[[]T] {
	return func(yield func([]T) bool) {
		for {
			first, ok := <-ch
			if !ok {
				return
			}
			batch := []T{first}
		fill:
			for len(batch) < n {
				select {
				case v, ok := <-ch:
					if !ok {
						break fill
					}
					batch = append(batch, v)
				default:
					break fill
				}
			}
			if !yield(batch) {
				return
			}
		}
	}
}

// opened is one envelope after Opener.Open.
type opened struct {
	msg message
	res backend.Result
	err error
}

// ingest opens and commits one group of envelopes, retrying the commit while
// the database is unreachable, and notes what each gateway's next receipt
// must mention.
func (s *Service) ingest(ctx context.Context, msgs []message) {
	out := make([]opened, len(msgs))
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range min(runtime.GOMAXPROCS(0), len(msgs)) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(msgs)); i = next.Add(1) - 1 {
				out[i].msg = msgs[i]
				out[i].res, out[i].err = s.deps.Opener.Open(msgs[i].topic, msgs[i].payload)
			}
		})
	}
	wg.Wait()

	var batches []store.Batch
	var results []backend.Result
	var rejects []store.Reject
	for _, o := range out {
		if o.err != nil {
			reason := backend.Reason(o.err)
			rejects = append(rejects, store.Reject{Time: o.msg.at, Reason: reason, Gateway: backend.ClaimedGateway(o.msg.payload),
				Topic: o.msg.topic, Detail: o.err.Error(), Size: len(o.msg.payload)})
			s.log.Warn("envelope rejected", "topic", o.msg.topic, "reason", reason, "err", o.err)
			continue
		}
		batches = append(batches, toBatch(o.res, o.msg.at))
		results = append(results, o.res)
	}
	var outcomes []store.Outcome
	for attempt := 0; ; attempt++ {
		var err error
		if len(rejects) > 0 {
			err = s.deps.Store.Reject(ctx, rejects)
			if err == nil {
				s.countRejects(rejects)
				rejects = nil
			}
		}
		if err == nil && len(batches) > 0 {
			outcomes, err = s.deps.Store.Commit(ctx, batches)
			if errors.Is(err, store.ErrInvalid) {
				batches, outcomes, rejects, err = s.commitEach(ctx, batches)
			}
		}
		if err == nil {
			s.setCommitErr(nil)
			break
		}
		s.setCommitErr(err)
		if ctx.Err() != nil {
			s.log.Warn("stopped before commit: no receipt, the gateways publish again", "batches", len(batches), "err", err)
			return
		}
		d := min(retryMax, 100*time.Millisecond<<min(attempt, 6))
		s.log.Warn("commit failed, retrying", "batches", len(batches), "in", d, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	s.observe(out, results, batches, outcomes)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, b := range batches {
		switch outcomes[i] {
		case store.New:
			s.stats.Committed++
			s.stats.Readings += uint64(len(b.Readings))
		case store.Duplicate:
			s.stats.Duplicates++
		case store.Reused:
			s.rejected["reused-seq"]++
			continue // a receipt would vouch for content the database does not hold
		}
		s.pending[b.Gateway] = append(s.pending[b.Gateway], pendingSeq{b.Seq, b.Received})
	}
}

// observe tells Deps.Observe what became of each envelope: the rejected
// ones, and the committed batches with their outcome.
func (s *Service) observe(out []opened, results []backend.Result, stored []store.Batch, outcomes []store.Outcome) {
	if s.deps.Observe == nil {
		return
	}
	for _, o := range out {
		if o.err != nil {
			s.deps.Observe(o.res, o.err)
		}
	}
	// stored may be a subset of results (batches the database refused are
	// rejects): match them by gateway and sequence number.
	type key struct {
		gw  string
		seq uint64
	}
	outcome := make(map[key]store.Outcome, len(stored))
	for i, b := range stored {
		outcome[key{b.Gateway, b.Seq}] = outcomes[i]
	}
	for _, r := range results {
		switch outcome[key{r.Gateway, r.Seq}] {
		case store.New:
			s.deps.Observe(r, nil)
		case store.Duplicate:
			r.Duplicate = true
			s.deps.Observe(r, nil)
		case store.Reused:
			s.deps.Observe(r, fmt.Errorf("gateway %s seq %d: %s", r.Gateway, r.Seq, store.ReasonReusedSeq))
		}
	}
}

// commitEach commits batches one at a time after the database refused the
// group as invalid, and returns the batches it stored with their outcomes
// and a reject for each it refused, which no receipt then covers.
func (s *Service) commitEach(ctx context.Context, batches []store.Batch) ([]store.Batch, []store.Outcome, []store.Reject, error) {
	var kept []store.Batch
	var outs []store.Outcome
	var rejects []store.Reject
	for _, b := range batches {
		o, err := s.deps.Store.Commit(ctx, []store.Batch{b})
		switch {
		case errors.Is(err, store.ErrInvalid):
			rejects = append(rejects, store.Reject{Time: b.Received, Reason: ReasonUnstorable, Gateway: b.Gateway,
				Topic: fmt.Sprintf("seq %d", b.Seq), Detail: err.Error(), Size: b.Size})
			s.log.Warn("batch refused by the database", "gateway", b.Gateway, "seq", b.Seq, "err", err)
		case err != nil: // try the whole group again later
			return batches, nil, nil, err
		default:
			kept = append(kept, b)
			outs = append(outs, o[0])
		}
	}
	if len(rejects) > 0 {
		if err := s.deps.Store.Reject(ctx, rejects); err != nil {
			return batches, nil, nil, err
		}
		s.countRejects(rejects)
	}
	return kept, outs, nil, nil
}

func (s *Service) countDocs(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Docs += uint64(n)
}

func (s *Service) countRejects(rs []store.Reject) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		s.rejected[r.Reason]++
	}
}

func (s *Service) setCommitErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.stats.CommitErr = ""
	} else {
		s.stats.CommitErr = err.Error()
	}
}

// toBatch converts an opened envelope to its database rows.
func toBatch(r backend.Result, received time.Time) store.Batch {
	b := store.Batch{
		Gateway: r.Gateway, Seq: r.Seq, Class: r.Class, KeyID: r.KeyID, ConfigVersion: r.ConfigVersion,
		Created: r.Created, Received: received, HeaderHash: r.HeaderHash, Size: r.Size, Audit: r.Audit,
	}
	if r.Gap != nil {
		b.Gap = &store.Gap{FromSeq: r.Gap.FromSeq, ToSeq: r.Gap.ToSeq, Batches: r.Gap.Batches, Readings: r.Gap.Readings, Reason: r.Gap.Reason}
	}
	b.Readings = make([]store.Reading, len(r.Readings))
	for i, rd := range r.Readings {
		b.Readings[i] = store.Reading{Device: rd.Device, Channel: rd.Channel, Unit: string(rd.Unit), Time: rd.Time, Flags: uint16(rd.Flags)}
		if rd.Flags&reading.ReadError == 0 {
			v := rd.Value
			b.Readings[i].Value = &v
		}
	}
	return b
}

// flushReceipts publishes, retained, one signed receipt for each gateway
// with something committed or received again since the last flush. A
// receipt that cannot be published stays pending.
func (s *Service) flushReceipts(ctx context.Context, client *mqtt.Client) {
	s.mu.Lock()
	pending := s.pending
	s.pending = map[string][]pendingSeq{}
	s.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	sem := make(chan struct{}, publishers)
	var wg sync.WaitGroup
	for gw, ps := range pending {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			seqs := make([]uint64, len(ps))
			for i, p := range ps {
				seqs[i] = p.seq
			}
			if err := s.sendReceipt(ctx, client, gw, seqs); err != nil {
				s.log.Warn("receipt not published, retrying", "gateway", gw, "err", err)
				s.mu.Lock()
				s.pending[gw] = append(s.pending[gw], ps...)
				s.mu.Unlock()
				return
			}
			published := s.deps.Now()
			for _, p := range ps {
				s.metrics.observeLag(p.received, published)
			}
			s.mu.Lock()
			s.stats.Receipts++
			s.mu.Unlock()
		})
	}
	wg.Wait()
}

func (s *Service) sendReceipt(ctx context.Context, client *mqtt.Client, gw string, seqs []uint64) error {
	committed, err := s.deps.Store.Committed(ctx, gw)
	if err != nil {
		return err
	}
	slices.Sort(seqs)
	r := receipt.FromSet(gw, committed, s.deps.Now(), slices.Compact(seqs)...)
	data, err := receipt.Sign(s.deps.Signer, r)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, mqtt.WriteTimeout)
	defer cancel()
	if err := client.Publish(pctx, topic.Receipt(s.cfg.TopicPrefix, gw), data, true); err != nil {
		return err
	}
	s.log.Debug("receipt published", "gateway", gw, "through", r.Through, "ranges", len(r.Ranges))
	return nil
}

// LoadDeps reads the keys a configuration names and opens its database.
func LoadDeps(ctx context.Context, cfg Config, log *slog.Logger) (Deps, error) {
	trust, err := envelope.LoadTrust(cfg.Trust...)
	if err != nil {
		return Deps{}, fmt.Errorf("ingest: %w", err)
	}
	var rks []*keys.RecipientPrivate
	for _, f := range cfg.RecipientKeys {
		k, err := keys.LoadRecipientPrivate(f)
		if err != nil {
			return Deps{}, fmt.Errorf("ingest: %w", err)
		}
		rks = append(rks, k)
	}
	id, err := keys.LoadIdentity(cfg.Identity)
	if err != nil {
		return Deps{}, fmt.Errorf("ingest: %w", err)
	}
	db, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return Deps{}, fmt.Errorf("ingest: %w", err)
	}
	return Deps{Store: db, Opener: backend.Opener{Trust: trust, Keys: rks}, Signer: id, Logger: log}, nil
}
