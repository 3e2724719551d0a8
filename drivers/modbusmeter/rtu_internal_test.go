package modbusmeter

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// scriptPort is a serial port on which the bytes of a script arrive, in
// chunks of a given size, after each write.
type scriptPort struct {
	script  []byte
	chunk   int
	pending []byte
	written [][]byte
	flushes int
}

func (p *scriptPort) Write(b []byte) (int, error) {
	p.written = append(p.written, append([]byte(nil), b...))
	p.pending = append(p.pending[:0], p.script...)
	return len(b), nil
}

func (p *scriptPort) readBefore(b []byte, _ time.Time) (int, error) {
	if len(p.pending) == 0 {
		return 0, errSilent
	}
	n := copy(b[:min(len(b), p.chunk)], p.pending)
	p.pending = p.pending[n:]
	return n, nil
}

func (p *scriptPort) flush() error { p.flushes++; return nil }
func (p *scriptPort) Close() error { return nil }

// frame appends the CRC to a unit id and PDU.
func frame(b ...byte) []byte {
	c := CRC16(b)
	return append(b, byte(c), byte(c>>8))
}

// request is unit 2 reading 2 input registers from 0.
var request = frame(2, ReadInput, 0, 0, 0, 2)

func TestRTUPicksReply(t *testing.T) {
	reply := frame(2, ReadInput, 4, 0x43, 0x66, 0, 0)
	other := frame(1, ReadInput, 4, 0x44, 0x9A, 0x50, 0)      // another unit's late reply
	earlier := frame(2, ReadInput, 8, 1, 2, 3, 4, 5, 6, 7, 8) // this unit's reply to an earlier, longer request
	exception := frame(2, ReadInput|0x80, 2)                  // illegal data address
	damaged := append(append([]byte(nil), reply[:len(reply)-1]...), reply[len(reply)-1]^0x5A)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name    string
		script  []byte
		want    []byte
		err     string
		foreign uint64
		noise   uint64
	}{
		{"reply alone", reply, reply, "", 0, 0},
		{"after other traffic", cat([]byte{0x00, 0xFF, 0x13}, other, earlier, reply), reply, "", 2, 3},
		{"after the adapter's echo", cat(request, reply), reply, "", 1, 0},
		{"reply then a late one", cat(reply, other), reply, "", 0, 0},
		{"exception", exception, exception, "", 0, 0},
		{"damaged", damaged, nil, "crc mismatch in the reply from unit 2", 0, 0},
		{"half a reply", reply[:4], nil, "timeout: incomplete reply within 300ms (4 bytes)", 0, 0},
		{"silence", nil, nil, "timeout: no reply within 300ms", 0, 0},
		{"only another unit", other, nil, "timeout: no reply within 300ms (1 frames of other units or requests skipped)", 1, 0},
		{"noise", []byte{0xFF, 0xFE, 0xFD}, nil, "3 bytes of noise and no valid reply", 0, 3},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 3, 512} {
			p := &scriptPort{script: tt.script, chunk: chunk}
			tr := &rtu{path: "/dev/test", cfg: LineConfig{Baud: 9600, Parity: "N", StopBits: 1, Timeout: 300 * time.Millisecond}, port: p}
			got, err := tr.Send(request)
			if tt.err == "" && (err != nil || !bytes.Equal(got, tt.want)) {
				t.Errorf("%s, chunks of %d: % x, %v; want % x", tt.name, chunk, got, err, tt.want)
			}
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("%s, chunks of %d: % x, %v; want error %q", tt.name, chunk, got, err, tt.err)
			}
			if tr.stats.Foreign != tt.foreign || tr.stats.Noise != tt.noise {
				t.Errorf("%s, chunks of %d: line stats %+v, want %d foreign, %d noise", tt.name, chunk, tr.stats, tt.foreign, tt.noise)
			}
			if p.flushes != 1 || len(p.written) != 1 || !bytes.Equal(p.written[0], request) {
				t.Errorf("%s: %d flushes, wrote % x; want the input flushed before the request", tt.name, p.flushes, p.written)
			}
		}
	}
}

// FuzzRTUReply: whatever precedes the reply on the line (noise, other
// frames, cut frames), Send returns a frame that answers the request with
// a valid CRC, or fails with a CRC error when the line carried a damaged
// reply of the request's shape first; it never panics or returns another
// frame.
func FuzzRTUReply(f *testing.F) {
	f.Add([]byte{}, uint8(1))
	f.Add([]byte{0, 0xFF, 0x13}, uint8(3))
	f.Add(frame(1, 4, 4, 1, 2, 3, 4), uint8(2))
	f.Add(frame(2, 4, 2, 1, 2), uint8(7))
	f.Add(frame(2, 0x84, 2)[:3], uint8(1))
	f.Add(append(frame(2, 3, 4, 1, 2, 3, 4), 2, 4, 4), uint8(5))
	reply := frame(2, ReadInput, 4, 0x43, 0x66, 0, 0)
	f.Fuzz(func(t *testing.T, prefix []byte, chunk uint8) {
		p := &scriptPort{script: append(append([]byte(nil), prefix...), reply...), chunk: int(chunk%64) + 1}
		tr := &rtu{path: "/dev/test", cfg: LineConfig{Baud: 9600, Parity: "N", StopBits: 1, Timeout: time.Millisecond}, port: p}
		got, err := tr.Send(request)
		if err != nil {
			if !errors.Is(err, ErrCRC) {
				t.Fatalf("% x: %v", p.script, err)
			}
			return
		}
		if e := expectFor(request); !e.matches(got) || !crcOK(got) {
			t.Fatalf("% x: returned % x, not an answer to % x", p.script, got, request)
		}
	})
}
