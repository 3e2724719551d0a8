package sensirion

import (
	"errors"
	"fmt"
)

// ErrCRC reports that a word's CRC-8 did not match: the frame is damaged
// (bus noise, a loose wire) and none of its values may be used.
var ErrCRC = errors.New("crc mismatch")

// CRC8 computes the Sensirion CRC-8 of b (normally one 2-byte word).
func CRC8(b []byte) byte {
	crc := byte(0xFF)
	for _, v := range b {
		crc ^= v
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x31
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// Command returns the bytes of a 16-bit command followed by its argument
// words, each argument word followed by its CRC.
func Command(cmd uint16, args ...uint16) []byte {
	b := make([]byte, 0, 2+3*len(args))
	b = append(b, byte(cmd>>8), byte(cmd))
	return AppendWords(b, args...)
}

// AppendWords appends each word big-endian followed by its CRC.
func AppendWords(b []byte, words ...uint16) []byte {
	for _, w := range words {
		hi, lo := byte(w>>8), byte(w)
		b = append(b, hi, lo, CRC8([]byte{hi, lo}))
	}
	return b
}

// Words decodes a reply of 3-byte groups (word, CRC) into words. It fails
// with an error wrapping ErrCRC, naming the word, if any CRC differs, and
// when the length is not a multiple of 3.
func Words(b []byte) ([]uint16, error) {
	if len(b)%3 != 0 {
		return nil, fmt.Errorf("reply of %d bytes is not a multiple of 3", len(b))
	}
	out := make([]uint16, len(b)/3)
	for i := range out {
		g := b[3*i : 3*i+3]
		if c := CRC8(g[:2]); c != g[2] {
			return nil, fmt.Errorf("word %d (%02x %02x): %w: got 0x%02x, want 0x%02x", i, g[0], g[1], ErrCRC, g[2], c)
		}
		out[i] = uint16(g[0])<<8 | uint16(g[1])
	}
	return out, nil
}
