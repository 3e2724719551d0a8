package envelope

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/edgegw/edgegw/crypto/keys"
)

// Format constants. They are part of the contract in docs/envelope.md.
const (
	// Version is the envelope format version written in headers.
	Version = 1
	// HPKEInfo is the HPKE info string of every sealed batch.
	HPKEInfo = "edgegw envelope v1"
	// SignContext is the first element of the signed payload array.
	SignContext = "edgegw batch v1"
	// GapClass is the data class of gap records (suite none).
	GapClass = "gap"
	// AuditClass is the data class of audit records (suite none): the
	// gateway's own signed account of privileged local actions.
	AuditClass = "audit"
	// MaxSize is the maximum size in bytes of a wire envelope.
	MaxSize = 16 << 20
)

// maxChunks is the maximum number of chunks in a batch.
const maxChunks = 100000

// Header is the clear header of a batch.
type Header struct {
	Version       uint64     // format version, 1
	GatewayID     string     // id of the gateway that produced and signed the batch
	Seq           uint64     // per-gateway sequence number, from 1
	Class         string     // data class, e.g. "telemetry", "personal" or "gap"
	ConfigVersion uint64     // version of the configuration in force
	Suite         keys.Suite // HPKE suite, keys.SuiteNone for gap records
	RecipientKID  []byte     // key id of the recipient public key (8 bytes), empty for suite none
	Enc           []byte     // HPKE encapsulated key, empty for suite none
	Created       time.Time  // when the batch was opened, whole seconds, UTC
}

// wireHeader is the CBOR array form of Header.
type wireHeader struct {
	_             struct{} `cbor:",toarray"`
	Version       uint64
	GatewayID     string
	Seq           uint64
	Class         string
	ConfigVersion uint64
	Suite         uint64
	RecipientKID  []byte
	Enc           []byte
	Created       int64
}

// encodeHeader validates h and returns its deterministic CBOR encoding.
func encodeHeader(h *Header) ([]byte, error) {
	if err := checkHeader(h); err != nil {
		return nil, err
	}
	if h.Seq == 0 {
		return nil, fmt.Errorf("header: sequence number 0 (numbers start at 1)")
	}
	w := wireHeader{
		Version: h.Version, GatewayID: h.GatewayID, Seq: h.Seq, Class: h.Class,
		ConfigVersion: h.ConfigVersion, Suite: uint64(h.Suite),
		RecipientKID: h.RecipientKID, Enc: h.Enc, Created: h.Created.Unix(),
	}
	b, err := encMode.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("encode header: %w", err)
	}
	return b, nil
}

// IsRecordClass reports whether class holds the gateway's own signed,
// unencrypted records (gap and audit) rather than sealed readings.
func IsRecordClass(class string) bool { return class == GapClass || class == AuditClass }

// RecordHeader returns the header of a record batch of class GapClass or
// AuditClass: suite none, no recipient key id and no enc.
func RecordHeader(gatewayID, class string, seq, configVersion uint64, created time.Time) ([]byte, error) {
	h := Header{
		Version: Version, GatewayID: gatewayID, Seq: seq, Class: class,
		ConfigVersion: configVersion, Suite: keys.SuiteNone,
		RecipientKID: []byte{}, Enc: []byte{}, Created: time.Unix(created.Unix(), 0).UTC(),
	}
	b, err := encodeHeader(&h)
	if err != nil {
		return nil, fmt.Errorf("%s header: %w", class, err)
	}
	return b, nil
}

// checkHeader checks the consistency of a header's fields.
func checkHeader(h *Header) error {
	if h.Version != Version {
		return fmt.Errorf("header: version %d, want %d", h.Version, Version)
	}
	if err := keys.ValidateID(h.GatewayID); err != nil {
		return fmt.Errorf("header: gateway id: %w", err)
	}
	if err := keys.ValidateID(h.Class); err != nil {
		return fmt.Errorf("header: class: %w", err)
	}
	switch {
	case h.Suite == keys.SuiteNone:
		if !IsRecordClass(h.Class) {
			return fmt.Errorf("header: suite none is only for classes %q and %q, not %q", GapClass, AuditClass, h.Class)
		}
		if len(h.RecipientKID) != 0 || len(h.Enc) != 0 {
			return fmt.Errorf("header: suite none with a recipient key id or enc")
		}
	case h.Suite.Encrypted():
		if IsRecordClass(h.Class) {
			return fmt.Errorf("header: class %q must use suite none", h.Class)
		}
		if len(h.RecipientKID) != keys.KIDSize {
			return fmt.Errorf("header: recipient key id is %d bytes, want %d", len(h.RecipientKID), keys.KIDSize)
		}
		if len(h.Enc) != h.Suite.EncSize() {
			return fmt.Errorf("header: enc is %d bytes, want %d for suite %s", len(h.Enc), h.Suite.EncSize(), h.Suite)
		}
	default:
		return fmt.Errorf("header: unknown suite %d", uint8(h.Suite))
	}
	return nil
}

// ParseHeader decodes and validates a header, rejecting any non-canonical
// encoding. Errors are *RejectError with reason malformed or
// unsupported-version.
func ParseHeader(b []byte) (*Header, error) {
	var items []cbor.RawMessage
	if err := decMode.Unmarshal(b, &items); err != nil || len(items) == 0 {
		return nil, reject(ReasonMalformed, "header: not a CBOR array: %v", err)
	}
	var v uint64
	if err := decMode.Unmarshal(items[0], &v); err != nil {
		return nil, reject(ReasonMalformed, "header: version: %w", err)
	}
	if v != Version {
		return nil, reject(ReasonUnsupportedVersion, "header: version %d, want %d", v, Version)
	}
	var w wireHeader
	if err := decMode.Unmarshal(b, &w); err != nil {
		return nil, reject(ReasonMalformed, "header: %w", err)
	}
	if w.Suite > 255 {
		return nil, reject(ReasonMalformed, "header: unknown suite %d", w.Suite)
	}
	h := &Header{
		Version: w.Version, GatewayID: w.GatewayID, Seq: w.Seq, Class: w.Class,
		ConfigVersion: w.ConfigVersion, Suite: keys.Suite(w.Suite),
		RecipientKID: w.RecipientKID, Enc: w.Enc, Created: time.Unix(w.Created, 0).UTC(),
	}
	if h.RecipientKID == nil {
		h.RecipientKID = []byte{}
	}
	if h.Enc == nil {
		h.Enc = []byte{}
	}
	re, err := encodeHeader(h)
	if err != nil {
		return nil, reject(ReasonMalformed, "%w", err)
	}
	if !bytes.Equal(re, b) {
		return nil, reject(ReasonMalformed, "header: not in canonical form")
	}
	return h, nil
}

// headerHash returns SHA-256 of the header bytes.
func headerHash(header []byte) [32]byte { return sha256.Sum256(header) }

// chunkAAD returns the associated data of chunk i: header_hash || uint32be(i).
func chunkAAD(hh *[32]byte, i int) []byte {
	aad := make([]byte, 0, 36)
	aad = append(aad, hh[:]...)
	return binary.BigEndian.AppendUint32(aad, uint32(i))
}
