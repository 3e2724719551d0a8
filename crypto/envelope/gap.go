package envelope

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// maxReason is the maximum length in bytes of a gap reason.
const maxReason = 256

// Gap reports batches the gateway dropped deliberately (for example when the
// operator's buffer limit was reached). It travels as the only chunk of a
// signed, unencrypted batch of class GapClass.
type Gap struct {
	FromSeq  uint64 // first dropped sequence number
	ToSeq    uint64 // last dropped sequence number, >= FromSeq
	Batches  uint64 // number of batches dropped
	Readings uint64 // number of readings dropped
	Reason   string // short reason, e.g. "max-bytes"; 1 to 256 bytes of UTF-8
}

// wireGap is the CBOR array form of Gap.
type wireGap struct {
	_        struct{} `cbor:",toarray"`
	FromSeq  uint64
	ToSeq    uint64
	Batches  uint64
	Readings uint64
	Reason   string
}

func (g *Gap) check() error {
	if g.FromSeq > g.ToSeq {
		return fmt.Errorf("gap: from seq %d after to seq %d", g.FromSeq, g.ToSeq)
	}
	if g.Reason == "" || len(g.Reason) > maxReason || !utf8.ValidString(g.Reason) {
		return errors.New("gap: reason must be 1 to 256 bytes of UTF-8")
	}
	return nil
}

// GapHeader returns the header of a gap record batch (see RecordHeader).
func GapHeader(gatewayID string, seq, configVersion uint64, created time.Time) ([]byte, error) {
	return RecordHeader(gatewayID, GapClass, seq, configVersion, created)
}

// GapChunks returns the chunks of a gap record batch: one chunk holding the
// plaintext CBOR array [from_seq, to_seq, batches, readings, reason].
func GapChunks(g Gap) ([][]byte, error) {
	if err := g.check(); err != nil {
		return nil, err
	}
	b, err := encMode.Marshal(&wireGap{FromSeq: g.FromSeq, ToSeq: g.ToSeq, Batches: g.Batches, Readings: g.Readings, Reason: g.Reason})
	if err != nil {
		return nil, fmt.Errorf("gap: %w", err)
	}
	return [][]byte{b}, nil
}
