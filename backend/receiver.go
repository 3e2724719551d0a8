package backend

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
)

// Record is one opened reading, as `edgegw open` prints it.
type Record struct {
	Gateway string   `json:"gateway"`
	Seq     uint64   `json:"seq"`
	Device  string   `json:"device"`
	Channel string   `json:"channel"`
	Value   *float64 `json:"value"` // nil for a read-error reading
	Unit    string   `json:"unit"`
	Time    string   `json:"time"` // RFC 3339 with milliseconds, UTC
	Class   string   `json:"class"`
	Flags   []string `json:"flags"`
}

// Result is what one envelope yielded.
type Result struct {
	Gateway   string
	Seq       uint64
	Class     string
	Duplicate bool          // already received: not printed again
	Records   []Record      // opened readings (none for duplicates and gap records)
	Gap       *envelope.Gap // set for a gap record
	Audit     []byte        // set for an audit record: one JSON object

	header [32]byte // SHA-256 of the raw header, to detect a reused sequence number
}

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
	line := fmt.Sprintf("received=%d readings=%d duplicates=%d gaps=%d gap_records=%d dropped=%d rejected=%d",
		s.Envelopes, s.Readings, s.Duplicates, missing, s.GapRecords, s.Dropped, rejected)
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
	trust envelope.Trust
	keys  []*keys.RecipientPrivate

	mu       sync.Mutex
	gateways map[string]*seqSet
	sum      Summary
}

// NewReceiver returns a receiver that trusts the given gateway keys and opens
// with the given recipient private keys.
func NewReceiver(trust envelope.Trust, recipientKeys ...*keys.RecipientPrivate) *Receiver {
	return &Receiver{
		trust:    trust,
		keys:     recipientKeys,
		gateways: map[string]*seqSet{},
		sum:      Summary{Rejected: map[string]uint64{}},
	}
}

// Handle opens one envelope received on topic (empty when read from a file).
// A rejected envelope returns an error whose reason is counted; it never
// yields records.
func (r *Receiver) Handle(topic string, wire []byte) (Result, error) {
	res, err := r.open(topic, wire)
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
	isNew, reused := seen.add(res.Seq, res.header)
	if reused {
		r.sum.Reused++
	}
	if !isNew {
		r.sum.Duplicates++
		return Result{Gateway: res.Gateway, Seq: res.Seq, Class: res.Class, Duplicate: true}, nil
	}
	if res.Audit != nil {
		r.sum.Audits++
	}
	if res.Gap != nil {
		r.sum.GapRecords++
		r.sum.Dropped += res.Gap.Readings
		seen.cover(res.Gap.FromSeq, res.Gap.ToSeq)
	}
	r.sum.Readings += uint64(len(res.Records))
	return res, nil
}

// open parses, verifies and opens one envelope.
func (r *Receiver) open(topic string, wire []byte) (Result, error) {
	env, err := envelope.Parse(wire)
	if err != nil {
		return Result{}, err
	}
	h := env.Header
	if err := checkTopic(topic, h.GatewayID, h.Class); err != nil {
		return Result{}, err
	}
	if err := env.Verify(r.trust); err != nil {
		return Result{}, err
	}
	res := Result{Gateway: h.GatewayID, Seq: h.Seq, Class: h.Class, header: sha256.Sum256(env.RawHeader)}
	switch h.Class {
	case envelope.GapClass:
		g, err := env.Gap()
		if err != nil {
			return Result{}, err
		}
		res.Gap = &g
		return res, nil
	case envelope.AuditClass:
		if res.Audit, err = env.Audit(); err != nil {
			return Result{}, err
		}
		return res, nil
	}
	readings, err := env.Open(r.keys...)
	if err != nil {
		return Result{}, err
	}
	res.Records = make([]Record, len(readings))
	for i, rd := range readings {
		res.Records[i] = record(h.GatewayID, h.Seq, h.Class, rd)
	}
	return res, nil
}

// checkTopic requires an envelope received on <prefix>/<gateway>/data/<class>
// (or <prefix>/<gateway>/audit for audit records) to carry that gateway and
// class in its signed header.
func checkTopic(topic, gateway, class string) error {
	if topic == "" {
		return nil
	}
	parts := strings.Split(topic, "/")
	n := len(parts)
	var ok bool
	if class == envelope.AuditClass {
		ok = n >= 3 && parts[n-1] == "audit" && parts[n-2] == gateway
	} else {
		ok = n >= 4 && parts[n-2] == "data" && parts[n-3] == gateway && parts[n-1] == class
	}
	if !ok {
		return &envelope.RejectError{Reason: "topic-mismatch", Err: fmt.Errorf("envelope of %s class %s received on topic %q", gateway, class, topic)}
	}
	return nil
}

// record converts a reading to its printed form.
func record(gateway string, seq uint64, class string, rd reading.Reading) Record {
	rec := Record{
		Gateway: gateway, Seq: seq, Device: rd.Device, Channel: rd.Channel, Unit: string(rd.Unit),
		Time: rd.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"), Class: class, Flags: rd.Flags.Names(),
	}
	if rd.Flags&reading.ReadError == 0 {
		v := rd.Value
		rec.Value = &v
	}
	return rec
}

// Reason returns the stable rejection reason of an error from Handle.
func Reason(err error) string {
	var rej *envelope.RejectError
	if errors.As(err, &rej) {
		return rej.Reason
	}
	return "malformed"
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
		if n := seen.missing(); n > 0 {
			s.Missing[gw] = n
		}
	}
	return s
}

// Missing returns, for one gateway, the sequence numbers neither received nor
// covered by a gap record, up to the highest received.
func (r *Receiver) Missing(gateway string) []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seen := r.gateways[gateway]; seen != nil {
		return seen.missingList()
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
	m, err := envelope.OpenManifest(data, r.trust)
	if err != nil {
		return fmt.Errorf("%s: %w", mf, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := r.gateways[m.Gateway]
	var missing []uint64
	for _, rg := range m.Ranges {
		for seq := rg[0]; seq <= rg[1]; seq++ {
			if seen == nil {
				missing = append(missing, seq)
			} else if _, ok := seen.seen[seq]; !ok {
				missing = append(missing, seq)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: export of %s lists %d batches that are not in it (first: seq %d)", mf, m.Gateway, len(missing), missing[0])
	}
	return nil
}
