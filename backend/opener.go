package backend

import (
	"crypto/sha256"
	"errors"
	"time"

	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
)

// Opener verifies and opens envelopes without keeping any state: `edgegw
// open` and `edgegw ingest` share it, so both accept and reject exactly the
// same envelopes for the same reasons.
type Opener struct {
	Trust envelope.Trust           // pinned gateway identities
	Keys  []*keys.RecipientPrivate // recipient private keys
}

// Result is what one envelope yielded.
type Result struct {
	Gateway       string
	Seq           uint64
	Class         string
	ConfigVersion uint64
	Created       time.Time         // when the gateway opened the batch
	KeyID         []byte            // recipient key id; empty for gap and audit records
	HeaderHash    [32]byte          // SHA-256 of the raw header, to detect a reused sequence number
	Size          int               // wire bytes
	Duplicate     bool              // already received (set by Receiver)
	Readings      []reading.Reading // opened readings (none for gap and audit records)
	Gap           *envelope.Gap     // set for a gap record
	Audit         []byte            // set for an audit record: one JSON object
}

// Open parses, verifies and opens one envelope received on topic (empty when
// read from a file). A rejected envelope returns an error for which Reason
// gives the stable rejection reason.
func (o Opener) Open(topic string, wire []byte) (Result, error) {
	env, err := envelope.Parse(wire)
	if err != nil {
		return Result{}, err
	}
	h := env.Header
	if err := envelope.CheckTopic(topic, &h); err != nil {
		return Result{}, err
	}
	if err := env.Verify(o.Trust); err != nil {
		return Result{}, err
	}
	res := Result{Gateway: h.GatewayID, Seq: h.Seq, Class: h.Class, ConfigVersion: h.ConfigVersion, Created: h.Created,
		KeyID: h.RecipientKID, HeaderHash: sha256.Sum256(env.RawHeader), Size: len(wire)}
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
	if res.Readings, err = env.Open(o.Keys...); err != nil {
		return Result{}, err
	}
	return res, nil
}

// ClaimedGateway returns the gateway id a rejected envelope's header claims,
// or "" when even the header cannot be read: for the record of the rejection.
func ClaimedGateway(wire []byte) string {
	if env, err := envelope.Parse(wire); err == nil {
		return env.Header.GatewayID
	}
	return ""
}

// Record is one opened reading, as `edgegw open` prints it.
type Record struct {
	Kind    string          `json:"kind"` // KindReading
	Gateway string          `json:"gateway"`
	Seq     uint64          `json:"seq"`
	Device  string          `json:"device"`
	Channel string          `json:"channel"`
	Value   *reading.Number `json:"value"` // nil for a read-error reading
	Unit    string          `json:"unit"`
	Time    string          `json:"time"` // RFC 3339 with milliseconds, UTC
	Class   string          `json:"class"`
	Flags   []string        `json:"flags"`
}

// Records returns the readings in their printed form.
func (r Result) Records() []Record {
	out := make([]Record, len(r.Readings))
	for i, rd := range r.Readings {
		out[i] = Record{
			Kind: KindReading, Gateway: r.Gateway, Seq: r.Seq, Device: rd.Device, Channel: rd.Channel, Unit: string(rd.Unit),
			Time: rd.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"), Class: r.Class, Flags: rd.Flags.Names(),
		}
		if rd.Flags&reading.ReadError == 0 {
			v := reading.Number(rd.Value)
			out[i].Value = &v
		}
	}
	return out
}

// Reason returns the stable rejection reason of an error from Open.
func Reason(err error) string {
	var rej *envelope.RejectError
	if errors.As(err, &rej) {
		return rej.Reason
	}
	return "malformed"
}
