package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
)

// batcher keeps one open batch per data class. Each poll is sealed into its
// class's batch at once and appended to the buffer; a batch closes with a
// signed trailer at maxReadings or maxDelay after it was begun.
type batcher struct {
	gatewayID     string
	configVersion uint64
	identity      *keys.Identity
	recipients    map[string]*keys.RecipientPublic
	store         buffer.Store
	maxReadings   int
	maxDelay      time.Duration
	now           func() time.Time
	log           *slog.Logger

	open map[string]*openBatch
}

// openBatch is the sending state of one open batch. It holds chunk
// ciphertexts (needed for the trailer) but never plaintext.
type openBatch struct {
	seq      uint64
	sealer   *envelope.Batch
	header   []byte
	chunks   [][]byte
	readings int
	deadline time.Time
}

// add seals one poll into its class's open batch, beginning one when needed,
// and closes the batch when it reached maxReadings. When the buffer dropped
// the open batch (a full disk; it reports the drop in a gap record), the
// poll goes into a new batch.
func (b *batcher) add(p poll) error {
	ob, chunk, err := b.sealPoll(p)
	if err != nil {
		return err
	}
	err = accepted(b.store.Append(ob.seq, chunk, len(p.readings)))
	if errors.Is(err, buffer.ErrUnknownBatch) {
		b.log.Warn("batch dropped by the buffer, poll goes into a new one", "seq", ob.seq)
		delete(b.open, p.class)
		if ob, chunk, err = b.sealPoll(p); err != nil {
			return err
		}
		err = accepted(b.store.Append(ob.seq, chunk, len(p.readings)))
	}
	if err != nil {
		// The HPKE context has moved past this chunk: later chunks could not
		// be opened without it, so the batch ends here.
		return fmt.Errorf("append to batch %d: %w", ob.seq, errors.Join(err, b.close(p.class)))
	}
	ob.chunks = append(ob.chunks, chunk)
	ob.readings += len(p.readings)
	if ob.readings >= b.maxReadings {
		return b.close(p.class)
	}
	return nil
}

// sealPoll seals the poll p for its class's open batch, beginning one if
// needed.
func (b *batcher) sealPoll(p poll) (*openBatch, []byte, error) {
	ob, err := b.batch(p.class)
	if err != nil {
		return nil, nil, err
	}
	chunk, err := ob.sealer.Seal(p.readings)
	if err != nil {
		return nil, nil, fmt.Errorf("seal poll of %s into batch %d: %w", p.readings[0].Device, ob.seq, err)
	}
	return ob, chunk, nil
}

// accepted returns err unless the buffer accepted the operation and only
// has not committed it yet (buffer.ErrNotCommitted): it keeps it, and
// commits or reports it later.
func accepted(err error) error {
	if errors.Is(err, buffer.ErrNotCommitted) {
		return nil
	}
	return err
}

// batch returns the open batch of class, beginning a new one if needed.
func (b *batcher) batch(class string) (*openBatch, error) {
	if ob := b.open[class]; ob != nil {
		return ob, nil
	}
	rcpt, ok := b.recipients[class]
	if !ok {
		return nil, fmt.Errorf("no recipient key for class %q", class)
	}
	now := b.now()
	sealer, err := envelope.NewBatch(rcpt, b.gatewayID, class, b.configVersion, now)
	if err != nil {
		return nil, fmt.Errorf("begin %s batch: %w", class, err)
	}
	ob := &openBatch{sealer: sealer, deadline: now.Add(b.maxDelay)}
	ob.seq, err = b.store.Begin(class, now, func(seq uint64) ([]byte, error) {
		h, err := sealer.Header(seq)
		ob.header = h
		return h, err
	})
	if err = accepted(err); err != nil {
		return nil, fmt.Errorf("begin %s batch: %w", class, err)
	}
	b.open[class] = ob
	return ob, nil
}

// close signs and seals the open batch of class.
func (b *batcher) close(class string) error {
	ob := b.open[class]
	if ob == nil {
		return nil
	}
	delete(b.open, class)
	if err := b.seal(ob.seq, ob.header, ob.chunks); err != nil {
		return err
	}
	b.log.Debug("batch closed", "seq", ob.seq)
	return nil
}

// seal signs a batch from its stored bytes and stores the trailer. Batches a
// crash left open are closed the same way.
func (b *batcher) seal(seq uint64, header []byte, chunks [][]byte) error {
	trailer, err := envelope.Sign(b.identity, header, chunks)
	if err != nil {
		return fmt.Errorf("sign batch %d: %w", seq, err)
	}
	err = accepted(b.store.Seal(seq, trailer))
	if errors.Is(err, buffer.ErrUnknownBatch) {
		return nil // dropped by the buffer, which reports it in a gap record
	}
	if err != nil {
		return fmt.Errorf("seal batch %d: %w", seq, err)
	}
	return nil
}

// closeDue closes the batches whose max_delay has passed and returns the
// earliest deadline of those still open (zero when none is open). A deadline
// further away than max_delay means the wall clock went back: that batch is
// closed too rather than held open until the clock catches up.
func (b *batcher) closeDue() (time.Time, error) {
	now := b.now()
	var next time.Time
	var errs []error
	for class, ob := range b.open {
		if !now.Before(ob.deadline) || ob.deadline.Sub(now) > b.maxDelay {
			errs = append(errs, b.close(class))
			continue
		}
		if next.IsZero() || ob.deadline.Before(next) {
			next = ob.deadline
		}
	}
	return next, errors.Join(errs...)
}

// closeAll closes every open batch (graceful stop).
func (b *batcher) closeAll() error {
	var errs []error
	for class := range b.open {
		errs = append(errs, b.close(class))
	}
	return errors.Join(errs...)
}

// recover closes the batches a crash left open.
func (b *batcher) recover() (int, error) {
	open, err := b.store.Unsealed()
	if err != nil {
		return 0, fmt.Errorf("list open batches: %w", err)
	}
	for _, ob := range open {
		if err := b.seal(ob.Seq, ob.Header, ob.Chunks); err != nil {
			return 0, err
		}
		b.log.Info("batch left open closed", "seq", ob.Seq)
	}
	return len(open), nil
}

// reportGap stores a signed gap record for batches the buffer dropped, if
// any.
func (b *batcher) reportGap() error {
	_, err := b.store.TakeGap(func(seq uint64, g buffer.Gap) (buffer.Batch, error) {
		now := b.now()
		header, err := envelope.GapHeader(b.gatewayID, seq, b.configVersion, now)
		if err != nil {
			return buffer.Batch{}, err
		}
		chunks, err := envelope.GapChunks(envelope.Gap{FromSeq: g.FromSeq, ToSeq: g.ToSeq, Batches: g.Batches, Readings: g.Readings, Reason: g.Reason})
		if err != nil {
			return buffer.Batch{}, err
		}
		trailer, err := envelope.Sign(b.identity, header, chunks)
		if err != nil {
			return buffer.Batch{}, err
		}
		b.log.Warn("buffer dropped batches", "seq", seq, "err", fmt.Errorf("%s: seq %d..%d, %d readings", g.Reason, g.FromSeq, g.ToSeq, g.Readings))
		return buffer.Batch{Seq: seq, Class: envelope.GapClass, Header: header, Chunks: chunks, Trailer: trailer, Created: now}, nil
	})
	if err != nil {
		return fmt.Errorf("store gap record: %w", err)
	}
	return nil
}
