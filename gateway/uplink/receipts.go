package uplink

import (
	"errors"
	"fmt"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/edgegw/edgegw/crypto/receipt"
)

// scanBatch is how many batches one read of a receipt's scan asks for.
const scanBatch = 256

// applyReceipt verifies a receipt and acknowledges to the source the
// batches it covers that the source holds. A receipt that does not verify,
// or whose Through is below one already accepted, deletes nothing: it is
// counted by reason and logged (a warning at most once a minute).
func (p *Publisher) applyReceipt(data []byte) {
	now := p.deps.Now()
	r, err := receipt.Verify(data, p.cfg.GatewayID, p.cfg.Receipts)
	if err == nil && r.Through < p.through {
		err = fmt.Errorf("%w: through %d, below %d already accepted", errStale, r.Through, p.through)
	}
	if err != nil {
		reason := rejectReason(err)
		p.mu.Lock()
		if p.st.Receipts.Rejected == nil {
			p.st.Receipts.Rejected = map[string]uint64{}
		}
		p.st.Receipts.Rejected[reason]++
		p.mu.Unlock()
		if p.receiptWarn.allow(now) {
			p.log.Warn("receipt rejected", "topic", p.receiptTopic, "err", err)
		} else {
			p.log.Debug("receipt rejected", "topic", p.receiptTopic, "err", err)
		}
		return
	}
	p.through = r.Through
	p.mu.Lock()
	p.st.Receipts.Accepted++
	p.st.Receipts.Last, p.st.Receipts.LastAt = r, now
	p.mu.Unlock()
	seqs, err := p.covered(r)
	if err == nil && len(seqs) > 0 {
		err = p.src.Ack(seqs...)
	}
	if err != nil {
		// What the receipt covers stays in the source: a later receipt (a
		// republish is answered with one) deletes it.
		p.setError(err)
		p.log.Warn("buffer ack failed", "seq", r.Through, "err", err)
		seqs = nil
	}
	p.untrack(true, seqs...)
	p.mu.Lock()
	p.st.Receipts.Receipted += uint64(len(seqs))
	p.mu.Unlock()
	p.log.Debug("receipt applied", "topic", p.receiptTopic, "seq", r.Through)
}

// covered returns the numbers of the batches in the source that r covers
// and that are not already gone, in ascending order.
func (p *Publisher) covered(r receipt.Receipt) ([]uint64, error) {
	var seqs []uint64
	hi := r.Highest()
	for after := uint64(0); after < hi; {
		bs, err := p.src.Next(after, scanBatch)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			if b.Seq > hi {
				return seqs, nil
			}
			if _, gone := p.gone[b.Seq]; r.Covers(b.Seq) && !gone {
				seqs = append(seqs, b.Seq)
			}
		}
		if len(bs) < scanBatch {
			break
		}
		after = bs[len(bs)-1].Seq
	}
	return seqs, nil
}

// rejectReason names why a receipt was rejected.
func rejectReason(err error) string {
	switch {
	case errors.Is(err, errStale):
		return RejectStale
	case errors.Is(err, receipt.ErrForeign):
		return RejectForeign
	case errors.Is(err, receipt.ErrUntrusted):
		return RejectUntrusted
	case errors.Is(err, receipt.ErrBadSignature):
		return RejectBadSignature
	}
	return RejectMalformed
}

// checkSubscription reports a receipt subscription that failed or that the
// broker refused: batches then wait for receipts that never come, and are
// published again after the receipt timeout.
func (p *Publisher) checkSubscription(tok paho.Token) {
	err := tok.Error()
	if st, ok := tok.(*paho.SubscribeToken); ok && err == nil && st.Result()[p.receiptTopic] == 0x80 {
		err = errors.New("refused by the broker (does its ACL let this certificate read it?)")
	}
	if err != nil {
		err = fmt.Errorf("uplink: subscribe to %s: %w", p.receiptTopic, err)
		p.setError(err)
		p.log.Warn("receipt subscription failed", "topic", p.receiptTopic, "err", err)
	}
}
