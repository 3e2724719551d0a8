package envelope

import (
	"crypto/hpke"
	"errors"
	"fmt"
	"time"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
)

// Batch seals the chunks of one batch to one recipient public key. It holds an
// HPKE sending context and never keeps plaintext after Seal returns. A Batch is
// not safe for concurrent use.
//
// The caller persists what Header and Seal return; signing (Sign) works on
// those stored bytes alone, so a batch left open by a crash is closed after
// restart without the Batch.
type Batch struct {
	h      Header
	sender *hpke.Sender
	hh     [32]byte
	fixed  bool
	n      int
	buf    []byte // plaintext scratch buffer, cleared after each Seal
}

// NewBatch opens a batch of class sealed to recipient r: it creates the HPKE
// sending context (and its encapsulated key) with info HPKEInfo. created is
// stored in whole seconds.
func NewBatch(r *keys.RecipientPublic, gatewayID, class string, configVersion uint64, created time.Time) (*Batch, error) {
	if r == nil || r.Key == nil || !r.Suite.Encrypted() {
		return nil, errors.New("new batch: no recipient key with an encrypting suite")
	}
	if r.Key.KEM().ID() != r.Suite.KEM().ID() {
		return nil, fmt.Errorf("new batch: recipient key KEM %#04x does not match suite %s", r.Key.KEM().ID(), r.Suite)
	}
	enc, s, err := hpke.NewSender(r.Key, r.Suite.KDF(), r.Suite.AEAD(), []byte(HPKEInfo))
	if err != nil {
		return nil, fmt.Errorf("new batch: %w", err)
	}
	b := &Batch{
		h: Header{
			Version: Version, GatewayID: gatewayID, Class: class, ConfigVersion: configVersion,
			Suite: r.Suite, RecipientKID: r.KID(), Enc: enc, Created: time.Unix(created.Unix(), 0).UTC(),
		},
		sender: s,
	}
	if err := checkHeader(&b.h); err != nil {
		return nil, fmt.Errorf("new batch: %w", err)
	}
	return b, nil
}

// Header fixes the batch's sequence number and returns the encoded header,
// which binds every chunk (through its hash in the AEAD associated data). It
// must be called exactly once, before Seal.
func (b *Batch) Header(seq uint64) ([]byte, error) {
	if b.fixed {
		return nil, errors.New("batch header: already fixed")
	}
	b.h.Seq = seq
	hb, err := encodeHeader(&b.h)
	if err != nil {
		return nil, fmt.Errorf("batch header: %w", err)
	}
	b.hh = headerHash(hb)
	b.fixed = true
	return hb, nil
}

// Seal encodes the readings of one poll as SenML-CBOR and seals them as the
// batch's next chunk, returning the ciphertext. The plaintext is cleared before
// Seal returns.
func (b *Batch) Seal(readings []reading.Reading) ([]byte, error) {
	if !b.fixed {
		return nil, errors.New("seal: batch header not fixed (call Header first)")
	}
	if b.n >= maxChunks {
		return nil, fmt.Errorf("seal: batch already has %d chunks", maxChunks)
	}
	pt, err := appendSenML(b.buf[:0], readings)
	b.buf = pt[:0]
	if err != nil {
		return nil, fmt.Errorf("seal chunk %d: %w", b.n, err)
	}
	ct, err := b.sender.Seal(chunkAAD(&b.hh, b.n), pt)
	clear(pt)
	if err != nil {
		return nil, fmt.Errorf("seal chunk %d: %w", b.n, err)
	}
	b.n++
	return ct, nil
}

// Len returns the number of chunks sealed so far.
func (b *Batch) Len() int { return b.n }
