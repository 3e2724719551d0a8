package envelope

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/edgegw/edgegw/crypto/internal/detcbor"
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
var encMode = detcbor.Enc

// decMode decodes envelope structures strictly. Callers additionally compare a
// re-encoding with the input to reject non-canonical forms.
var decMode = detcbor.Strict(detcbor.Limits{Nesting: 8, Array: maxChunks, MapPairs: 64})

// senmlDecMode decodes SenML packs.
var senmlDecMode = detcbor.Strict(detcbor.Limits{Nesting: 8, Array: maxRecords, MapPairs: 64})

// appendInt appends a CBOR integer.
func appendInt(b []byte, v int64) []byte {
	if v >= 0 {
		return detcbor.AppendHead(b, majorUint, uint64(v))
	}
	return detcbor.AppendHead(b, majorNeg, uint64(-1-v))
}

// appendText appends a CBOR text string.
func appendText(b []byte, s string) []byte {
	return append(detcbor.AppendHead(b, majorText, uint64(len(s))), s...)
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

// checkDeterministic reports whether b is exactly one CBOR data item in the
// deterministic encoding of docs/envelope.md (RFC 8949 section 4.2.1, core
// deterministic encoding): every integer, length and simple value in its
// shortest head, every float in the shortest of float16, float32 and float64
// that holds it exactly, definite lengths, no tags, and map keys in strictly
// ascending bytewise order of their encodings (so no duplicate keys).
func checkDeterministic(b []byte) error {
	n, err := deterministicItem(b, 0, 0)
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("cbor: %d bytes after the data item", len(b)-n)
	}
	return nil
}

// maxDepth bounds the nesting checkDeterministic follows; the decoders allow
// less.
const maxDepth = 16

// deterministicItem checks the data item at b[off:] and returns the offset just
// after it.
func deterministicItem(b []byte, off, depth int) (int, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("cbor: nested deeper than %d", maxDepth)
	}
	if off >= len(b) {
		return 0, fmt.Errorf("cbor: truncated at byte %d", off)
	}
	start := off
	major, ai := b[off]>>5, b[off]&0x1f
	off++
	var arg uint64
	switch {
	case ai < 24:
		arg = uint64(ai)
	case ai <= 27:
		size := 1 << (ai - 24)
		if len(b)-off < size {
			return 0, fmt.Errorf("cbor: truncated at byte %d", start)
		}
		for _, c := range b[off : off+size] {
			arg = arg<<8 | uint64(c)
		}
		off += size
		if major == 7 {
			return off, checkFloat(ai, arg, start)
		}
		if least := [4]uint64{24, 1 << 8, 1 << 16, 1 << 32}[ai-24]; arg < least {
			return 0, fmt.Errorf("cbor: byte %d: argument %d not in its shortest form", start, arg)
		}
	case ai == 31:
		return 0, fmt.Errorf("cbor: byte %d: indefinite length", start)
	default:
		return 0, fmt.Errorf("cbor: byte %d: reserved additional information %d", start, ai)
	}
	switch major {
	case majorBytes, majorText:
		if arg > uint64(len(b)-off) {
			return 0, fmt.Errorf("cbor: byte %d: string of %d bytes truncated", start, arg)
		}
		return off + int(arg), nil
	case majorArray:
		for range arg {
			var err error
			if off, err = deterministicItem(b, off, depth+1); err != nil {
				return 0, err
			}
		}
		return off, nil
	case majorMap:
		var prev []byte
		for i := range arg {
			k := off
			var err error
			if off, err = deterministicItem(b, off, depth+1); err != nil {
				return 0, err
			}
			if i > 0 && bytes.Compare(prev, b[k:off]) >= 0 {
				return 0, fmt.Errorf("cbor: byte %d: map keys not in ascending order or repeated", k)
			}
			prev = b[k:off]
			if off, err = deterministicItem(b, off, depth+1); err != nil {
				return 0, err
			}
		}
		return off, nil
	case 6:
		return 0, fmt.Errorf("cbor: byte %d: tag", start)
	}
	return off, nil // integers and simple values below 24
}

// checkFloat checks a major type 7 item with a 1-, 2-, 4- or 8-byte argument:
// a simple value of one byte must be at least 32 (RFC 8949 section 3.3), and a
// float must not fit exactly in a shorter float.
func checkFloat(ai byte, arg uint64, at int) error {
	switch ai {
	case 24:
		if arg < 32 {
			return fmt.Errorf("cbor: byte %d: simple value %d in two bytes", at, arg)
		}
	case 26:
		f := math.Float32frombits(uint32(arg))
		if _, ok := float16Bits(f); ok || f != f || math.IsInf(float64(f), 0) {
			return fmt.Errorf("cbor: byte %d: float32 %v fits in float16", at, f)
		}
	case 27:
		f := math.Float64frombits(arg)
		if math.IsNaN(f) || math.IsInf(f, 0) || float64(float32(f)) == f {
			return fmt.Errorf("cbor: byte %d: float64 %v fits in a shorter float", at, f)
		}
	}
	return nil
}
