// Package detcbor holds the CBOR modes of edgegw's signed formats (the
// envelope, export manifests, receipts and configuration documents):
// deterministic encoding and strict decoding, so that a signed payload has
// exactly one encoding and anything else is refused; and the writers of
// CBOR heads and byte strings that the hand-built encodings share.
package detcbor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"

	"github.com/fxamacker/cbor/v2"
)

// Enc encodes in RFC 8949 core deterministic encoding (section 4.2.1), with
// nil slices and maps as empty ones.
var Enc = must(func() (cbor.EncMode, error) {
	o := cbor.CoreDetEncOptions()
	o.NilContainers = cbor.NilContainerAsEmpty
	return o.EncMode()
})

// Limits bound what a strict decoder accepts.
type Limits struct {
	Nesting  int // nested arrays and maps
	Array    int // elements of one array
	MapPairs int // pairs of one map
}

// Strict returns a decoder that refuses duplicate map keys, indefinite
// lengths, tags, invalid UTF-8, fields the target struct does not have, and
// anything beyond l. Integers decode into interfaces as integers.
func Strict(l Limits) cbor.DecMode {
	return must(cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   l.Nesting,
		MaxArrayElements:  l.Array,
		MaxMapPairs:       l.MapPairs,
		IntDec:            cbor.IntDecConvertNone,
		UTF8:              cbor.UTF8RejectInvalid,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode)
}

// ErrNotCanonical is returned by Decode for a payload that decodes but is
// not the one encoding of what it holds.
var ErrNotCanonical = errors.New("not in deterministic CBOR")

// Decode decodes b into v with dec, then checks that enc encodes v back to
// exactly b: a longer form of an integer, a null for an empty array, a map in
// another order or a value of another type is refused with ErrNotCanonical.
func Decode(dec cbor.DecMode, enc cbor.EncMode, b []byte, v any) error {
	if err := dec.Unmarshal(b, v); err != nil {
		return err
	}
	again, err := enc.Marshal(v)
	if err != nil {
		return err
	}
	if !bytes.Equal(again, b) {
		return ErrNotCanonical
	}
	return nil
}

// must returns the mode that mk makes, and panics if the options are
// invalid, which is a programming error found by any test.
func must[M any](mk func() (M, error)) M {
	m, err := mk()
	if err != nil {
		panic(err)
	}
	return m
}

// AppendHead appends a CBOR head of major type major with argument n in its
// shortest form, as deterministic encoding requires.
func AppendHead(b []byte, major byte, n uint64) []byte {
	major <<= 5
	switch {
	case n < 24:
		return append(b, major|byte(n))
	case n <= math.MaxUint8:
		return append(b, major|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, major|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, major|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, major|27), n)
}

// AppendBytes appends p as a CBOR byte string.
func AppendBytes(b, p []byte) []byte {
	const majorBytes = 2
	return append(AppendHead(b, majorBytes, uint64(len(p))), p...)
}
