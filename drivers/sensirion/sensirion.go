package sensirion

import (
	"context"
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3"

	"github.com/edgegw/edgegw/drivers"
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

// Transact runs one command on a Sensirion chip: it writes the command and
// its argument words, waits the command's execution time exec with sleep,
// and reads n reply words, checking each word's CRC.
func Transact(ctx context.Context, c conn.Conn, sleep func(context.Context, time.Duration) error, cmd uint16, args []uint16, exec time.Duration, n int) ([]uint16, error) {
	if err := c.Tx(Command(cmd, args...), nil); err != nil {
		return nil, fmt.Errorf("command 0x%04x: %w", cmd, err)
	}
	if exec > 0 {
		if err := sleep(ctx, exec); err != nil {
			return nil, err
		}
	}
	if n == 0 {
		return nil, nil
	}
	buf := make([]byte, 3*n)
	if err := c.Tx(nil, buf); err != nil {
		return nil, fmt.Errorf("command 0x%04x: read reply: %w", cmd, err)
	}
	ws, err := Words(buf)
	if err != nil {
		return nil, fmt.Errorf("command 0x%04x: %w", cmd, err)
	}
	return ws, nil
}

// WaitReady waits, bounded by timeout, for a chip that samples every period
// to have a sample: it calls ready every 100 ms through sleep. It returns
// drivers.ErrNoData instead of waiting when the first sample of the
// measurement started at started is not due yet, or when the timeout passes
// and the last sample (zero for none) is recent: the next poll gets it.
func WaitReady(ctx context.Context, ready func(context.Context) (bool, error), now func() time.Time, sleep func(context.Context, time.Duration) error,
	started, last time.Time, period, timeout time.Duration) error {
	deadline := now().Add(timeout)
	for {
		ok, err := ready(ctx)
		if err != nil || ok {
			return err
		}
		t := now()
		if last.IsZero() && t.Sub(started) < period+time.Second {
			// The first sample of a measurement comes one period after
			// its start: no reason to hold the poll until then.
			return fmt.Errorf("first sample due %s after start: %w", period, drivers.ErrNoData)
		}
		if !t.Before(deadline) {
			if !last.IsZero() && t.Sub(last) < 2*period {
				return fmt.Errorf("no new sample yet: %w", drivers.ErrNoData)
			}
			return fmt.Errorf("no sample ready within %s", timeout)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}
