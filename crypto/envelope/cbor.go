package envelope

import (
	"encoding/binary"
	"math"

	"github.com/fxamacker/cbor/v2"
)

// CBOR major types.
const (
	majorUint  = 0
	majorNeg   = 1
	majorBytes = 2
	majorText  = 3
	majorArray = 4
	majorMap   = 5
)

// encMode is the deterministic CBOR encoder of the envelope format.
var encMode = mustEncMode()

func mustEncMode() cbor.EncMode {
	o := cbor.CoreDetEncOptions()
	o.NilContainers = cbor.NilContainerAsEmpty
	m, err := o.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}

// decMode decodes envelope structures strictly. Callers additionally compare a
// re-encoding with the input to reject non-canonical forms.
var decMode = mustDecMode(maxChunks)

// senmlDecMode decodes SenML packs.
var senmlDecMode = mustDecMode(maxRecords)

func mustDecMode(maxArray int) cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   8,
		MaxArrayElements:  maxArray,
		MaxMapPairs:       64,
		IntDec:            cbor.IntDecConvertNone,
		UTF8:              cbor.UTF8RejectInvalid,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}

// appendHead appends a CBOR head of major type m with argument n in its
// shortest form.
func appendHead(b []byte, m byte, n uint64) []byte {
	m <<= 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

// appendInt appends a CBOR integer.
func appendInt(b []byte, v int64) []byte {
	if v >= 0 {
		return appendHead(b, majorUint, uint64(v))
	}
	return appendHead(b, majorNeg, uint64(-1-v))
}

// appendText appends a CBOR text string.
func appendText(b []byte, s string) []byte {
	return append(appendHead(b, majorText, uint64(len(s))), s...)
}

// appendBytes appends a CBOR byte string.
func appendBytes(b, p []byte) []byte {
	return append(appendHead(b, majorBytes, uint64(len(p))), p...)
}

// appendFloat appends a finite float in the shortest of float16, float32 and
// float64 that represents it exactly (RFC 8949 preferred serialization).
func appendFloat(b []byte, f float64) []byte {
	f32 := float32(f)
	if float64(f32) != f {
		return binary.BigEndian.AppendUint64(append(b, 0xfb), math.Float64bits(f))
	}
	if h, ok := float16Bits(f32); ok {
		return binary.BigEndian.AppendUint16(append(b, 0xf9), h)
	}
	return binary.BigEndian.AppendUint32(append(b, 0xfa), math.Float32bits(f32))
}

// float16Bits returns the IEEE 754 binary16 encoding of a finite f and whether
// it is exact.
func float16Bits(f float32) (uint16, bool) {
	u := math.Float32bits(f)
	sign := uint16(u>>16) & 0x8000
	exp := int(u>>23&0xff) - 127
	mant := u & 0x7fffff
	switch {
	case exp == -127 && mant == 0: // ±0
		return sign, true
	case exp == -127 || exp == 128: // float32 subnormal (too small) or not finite
		return 0, false
	case exp >= -14 && exp <= 15: // normal binary16
		if mant&0x1fff != 0 {
			return 0, false
		}
		return sign | uint16(exp+15)<<10 | uint16(mant>>13), true
	case exp >= -24 && exp < -14: // subnormal binary16: m × 2^-24
		full := 0x800000 | mant
		shift := uint(-exp - 1)
		if full&(1<<shift-1) != 0 {
			return 0, false
		}
		return sign | uint16(full>>shift), true
	}
	return 0, false
}
