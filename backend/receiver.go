package backend

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
)

// Summary accounts for everything received.
type Summary struct {
	Envelopes  uint64            // valid envelopes, duplicates included
	Readings   uint64            // readings opened (duplicates excluded)
	Duplicates uint64            // envelopes received again
	Reused     uint64            // sequence numbers received again with a different header
	GapRecords uint64            // signed gap records received
	Audits     uint64            // signed audit records received
	Dropped    uint64            // readings the gateways reported dropped
	Missing    map[string]uint64 // per gateway: sequence numbers neither received nor covered by a gap record
	Rejected   map[string]uint64 // per reason
}

// String renders the summary as one line.
func (s Summary) String() string {
	var missing uint64
	for _, n := range s.Missing {
		missing += n
	}
	var rejected uint64
	var reasons []string
	for r, n := range s.Rejected {
		rejected += n
		reasons = append(reasons, fmt.Sprintf("%s=%d", r, n))
	}
	line := fmt.Sprintf("received=%d readings=%d duplicates=%d gaps=%d gap_records=%d audits=%d dropped=%d rejected=%d",
		s.Envelopes, s.Readings, s.Duplicates, missing, s.GapRecords, s.Audits, s.Dropped, rejected)
	if s.Reused > 0 {
		line += fmt.Sprintf(" reused=%d", s.Reused)
	}
	if len(reasons) > 0 {
		slices.Sort(reasons)
		line += " (" + strings.Join(reasons, " ") + ")"
	}
	return line
}

// Receiver opens and accounts for envelopes. It is safe for concurrent use.
type Receiver struct {
	opener Opener

	mu       sync.Mutex
	gateways map[string]*seqSet
	sum      Summary
}

// NewReceiver returns a receiver that trusts the given gateway keys and opens
// with the given recipient private keys.
func NewReceiver(trust envelope.Trust, recipientKeys ...*keys.RecipientPrivate) *Receiver {
	return &Receiver{
		opener:   Opener{Trust: trust, Keys: recipientKeys},
		gateways: map[string]*seqSet{},
		sum:      Summary{Rejected: map[string]uint64{}},
	}
}

// Handle opens one envelope received on topic (empty when read from a file).
// A rejected envelope returns an error whose reason is counted; it never
// yields records.
func (r *Receiver) Handle(topic string, wire []byte) (Result, error) {
	res, err := r.opener.Open(topic, wire)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.sum.Rejected[Reason(err)]++
		return Result{}, err
	}
	r.sum.Envelopes++
	seen := r.gateways[res.Gateway]
	if seen == nil {
		seen = newSeqSet()
		r.gateways[res.Gateway] = seen
	}
	isNew, reused := seen.add(res.Seq, res.HeaderHash)
	if reused {
		r.sum.Reused++
	}
	if !isNew {
		r.sum.Duplicates++
		res.Readings, res.Gap, res.Audit, res.Duplicate = nil, nil, nil, true
		return res, nil
	}
	if res.Audit != nil {
		r.sum.Audits++
	}
	if res.Gap != nil {
		r.sum.GapRecords++
		r.sum.Dropped += res.Gap.Readings
		seen.cover(res.Gap.FromSeq, res.Gap.ToSeq)
	}
	r.sum.Readings += uint64(len(res.Readings))
	return res, nil
}

// Summary returns the account so far. Missing counts, per gateway, the
// sequence numbers between 1 and the highest received that were neither
// received nor covered by a gap record.
func (r *Receiver) Summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sum
	s.Missing = map[string]uint64{}
	s.Rejected = map[string]uint64{}
	for k, v := range r.sum.Rejected {
		s.Rejected[k] = v
	}
	for gw, seen := range r.gateways {
		if n := seen.missing().count(); n > 0 {
			s.Missing[gw] = n
		}
	}
	return s
}

// Missing returns, for one gateway, the ranges of sequence numbers neither
// received nor covered by a gap record, up to the highest received.
func (r *Receiver) Missing(gateway string) [][2]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seen := r.gateways[gateway]; seen != nil {
		return seen.missing()
	}
	return nil
}

// checkManifest verifies the signed export manifest in file mf and reports
// the sequence numbers it lists that were not received.
func (r *Receiver) checkManifest(mf string) error {
	data, err := os.ReadFile(mf)
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	m, err := envelope.OpenManifest(data, r.opener.Trust)
	if err != nil {
		return fmt.Errorf("%s: %w", mf, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var got ranges
	if seen := r.gateways[m.Gateway]; seen != nil {
		got = seen.received()
	}
	var missing ranges
	for _, rg := range m.Ranges {
		missing = append(missing, got.holes(rg[0], rg[1])...)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: export of %s lists %d batches that are not in it (first: seq %d)", mf, m.Gateway, missing.count(), missing[0][0])
	}
	return nil
}
