package modbusmeter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/edgegw/edgegw/drivers"
)

// LineStats counts what a bus's line carried besides the replies its
// requests asked for. Such traffic is never held against the unit asked.
type LineStats struct {
	Foreign uint64 `json:"foreign_replies"` // complete frames discarded: another unit's late reply, a reply to an earlier request
	Noise   uint64 `json:"noise_bytes"`     // bytes that belonged to no valid frame
	Quiets  uint64 `json:"quiets"`          // waits for silence after a failed transaction
	Drained uint64 `json:"drained_bytes"`   // bytes that arrived during those waits
}

// rtu is the Modbus RTU transport of a Bus on a serial port (goburrow's
// Transporter). Unlike goburrow's own it opens the port with its input
// flushed, flushes before every request, reads the reply as bytes arrive
// until a deadline, and picks the reply to its request out of whatever
// else the line carries: a late reply from another unit, or to an earlier
// request, is skipped and counted, not taken for the answer. It is used
// under the Bus's lock only.
type rtu struct {
	path     string
	cfg      LineConfig
	port     serialPort // nil until opened, and after an I/O error
	deadline time.Time  // the caller's deadline for the current reply; zero for none
	stats    LineStats
	skipped  int    // foreign frames skipped while waiting for the current reply
	noise    int    // bytes of noise heard meanwhile
	pending  []byte // received, not yet a frame
	waits    []wait // offsets in pending where a frame may still be arriving
	scanned  int    // offsets in pending below this were looked at
	buf      [512]byte
}

// connect opens the port unless it is open. Errors name the port and,
// when it does not exist or may not be opened, what to do about it.
func (t *rtu) connect() error {
	if t.port != nil {
		return nil
	}
	p, err := openPort(t.path, t.cfg)
	if err != nil {
		return drivers.BusError(drivers.SerialBus, t.path, err)
	}
	t.port = p
	return nil
}

// close closes the port; the next request opens it again.
func (t *rtu) close() error {
	if t.port == nil {
		return nil
	}
	err := t.port.Close()
	t.port = nil
	return err
}

// ioError closes the port after a failed read or write, so that the next
// request reopens it (a replugged USB adapter comes back under the same
// path), and names the port.
func (t *rtu) ioError(op string, err error) error {
	t.close()
	return fmt.Errorf("%s %s: %w", op, t.path, err)
}

// Send implements modbus.Transporter: it writes the request frame and
// returns the reply frame to it.
func (t *rtu) Send(req []byte) ([]byte, error) {
	if err := t.connect(); err != nil {
		return nil, err
	}
	if err := t.port.flush(); err != nil {
		return nil, t.ioError("flush", err)
	}
	e := expectFor(req)
	start := time.Now()
	deadline, cut := start.Add(t.cfg.wire(len(req)+e.size())+t.cfg.Timeout), false
	if !t.deadline.IsZero() && t.deadline.Before(deadline) {
		deadline, cut = t.deadline, true
	}
	if _, err := t.port.Write(req); err != nil {
		return nil, t.ioError("write", err)
	}
	t.reset()
	t.skipped, t.noise = 0, 0
	for {
		n, err := t.port.readBefore(t.buf[:], deadline)
		t.pending = append(t.pending, t.buf[:n]...)
		if reply, perr := t.scan(e); reply != nil || perr != nil {
			return reply, perr
		}
		switch {
		case errors.Is(err, errSilent):
			return nil, t.missing(e, time.Since(start), cut)
		case err != nil:
			return nil, t.ioError("read", err)
		}
	}
}

// scan looks through the pending bytes for the reply e expects, dropping
// the complete frames before it that are not (counted as foreign) and the
// bytes that can start no frame (counted as noise). It returns the reply,
// an error when the reply arrived damaged, or neither while it is still
// to come. Offsets already found to start no frame are not looked at
// again: the work is proportional to the bytes received.
func (t *rtu) scan(e expect) ([]byte, error) {
	for {
		p := t.pending
		if e.damaged(p) {
			t.reset()
			return nil, fmt.Errorf("%w in the reply from unit %d", ErrCRC, e.unit)
		}
		at, n := t.find()
		if at < 0 {
			t.trim()
			return nil, nil
		}
		t.heard(at)
		if f := p[at : at+n]; e.matches(f) {
			reply := append([]byte(nil), f...)
			t.reset()
			return reply, nil
		}
		t.stats.Foreign++
		t.skipped++
		t.pending = append(p[:0], p[at+n:]...)
		t.waits, t.scanned = t.waits[:0], 0
	}
}

// find returns the offset and length of the first complete frame in the
// pending bytes (-1 for none), looking again only at the offsets where a
// frame was still arriving and at the bytes new since the last look.
func (t *rtu) find() (int, int) {
	p := t.pending
	keep := t.waits[:0]
	for _, w := range t.waits {
		if len(p)-w.off < w.need {
			keep = append(keep, w)
			continue
		}
		n, need := frameAt(p[w.off:])
		if n > 0 {
			return w.off, n
		}
		if need > 0 {
			keep = append(keep, wait{w.off, need})
		}
	}
	t.waits = keep
	for ; t.scanned < len(p); t.scanned++ {
		n, need := frameAt(p[t.scanned:])
		if n > 0 {
			return t.scanned, n
		}
		if need > 0 {
			t.waits = append(t.waits, wait{t.scanned, need})
		}
	}
	return -1, 0
}

// trim drops the pending bytes before the first offset where a frame may
// still be arriving: they are noise.
func (t *rtu) trim() {
	k := t.scanned
	if len(t.waits) > 0 {
		k = t.waits[0].off
	}
	t.heard(k)
	t.pending = append(t.pending[:0], t.pending[k:]...)
	for i := range t.waits {
		t.waits[i].off -= k
	}
	t.scanned -= k
}

// reset forgets the pending bytes.
func (t *rtu) reset() {
	t.pending, t.waits, t.scanned = t.pending[:0], t.waits[:0], 0
}

// heard counts n bytes of noise.
func (t *rtu) heard(n int) {
	t.noise += n
	t.stats.Noise += uint64(n)
}

// missing explains why no reply arrived by the deadline: nothing at all, a
// reply cut short, or noise. It names the timeout, or the time the poll
// had left when that was shorter, and the other traffic skipped meanwhile.
func (t *rtu) missing(e expect, waited time.Duration, cut bool) error {
	within := fmt.Sprintf("within %v", t.cfg.Timeout)
	if cut {
		within = fmt.Sprintf("within the %v the poll had left", waited.Round(time.Millisecond))
	}
	if t.skipped > 0 {
		within += fmt.Sprintf(" (%d frames of other units or requests skipped)", t.skipped)
	}
	p := t.pending
	t.reset()
	if len(p) >= 2 && p[0] == e.unit && (p[1] == e.fc || p[1] == e.fc|0x80) {
		return fmt.Errorf("%w: incomplete reply %s (%d bytes)", ErrTimeout, within, len(p))
	}
	t.heard(len(p))
	if t.noise == 0 {
		return fmt.Errorf("%w: no reply %s", ErrTimeout, within)
	}
	return fmt.Errorf("%w: %d bytes of noise and no valid reply %s", ErrCRC, t.noise, within)
}

// quiet keeps the line quiet after a failed transaction: it discards what
// arrives until the line has been silent for window (a unit answering
// late finishes its reply instead of colliding with the next request), for
// at most limit.
func (t *rtu) quiet(window, limit time.Duration) {
	if t.port == nil {
		return
	}
	t.stats.Quiets++
	end := time.Now().Add(limit)
	for {
		deadline := time.Now().Add(window)
		if deadline.After(end) {
			deadline = end
		}
		n, err := t.port.readBefore(t.buf[:], deadline)
		t.stats.Drained += uint64(n)
		if err != nil || !time.Now().Before(end) {
			if err != nil && !errors.Is(err, errSilent) {
				t.close()
			}
			return
		}
	}
}

// expect is what the reply to a request looks like.
type expect struct {
	unit, fc uint8
	regs     int // registers asked for (fc 3 and 4); 0 when unknown
}

// expectFor reads unit, function and quantity from a request frame.
func expectFor(req []byte) expect {
	e := expect{unit: req[0], fc: req[1]}
	if (e.fc == ReadHolding || e.fc == ReadInput) && len(req) >= 6 {
		e.regs = int(binary.BigEndian.Uint16(req[4:]))
	}
	return e
}

// size is the length of a data reply to the request.
func (e expect) size() int { return 5 + 2*e.regs }

// matches reports whether a complete frame with a valid CRC answers the
// request: the unit asked, and either an exception to its function or data
// of its function with the byte count of the registers asked for. A reply
// of the same unit and function with another byte count answers an earlier
// request and is not the answer.
func (e expect) matches(f []byte) bool {
	switch {
	case f[0] != e.unit:
		return false
	case f[1] == e.fc|0x80:
		return len(f) == 5
	case f[1] == e.fc:
		return e.regs == 0 || (len(f) == e.size() && int(f[2]) == 2*e.regs)
	}
	return false
}

// damaged reports whether b starts with the reply e expects, complete,
// with a CRC that does not match.
func (e expect) damaged(b []byte) bool {
	n := e.size()
	return e.regs > 0 && len(b) >= n && b[0] == e.unit && b[1] == e.fc && int(b[2]) == 2*e.regs && !crcOK(b[:n])
}

// wait is an offset in the pending bytes where a frame may be arriving,
// and how many bytes from there decide it.
type wait struct{ off, need int }

// frameAt returns the length n of the complete RTU frame with a valid CRC
// that starts at b[0]; when there is none, need > 0 is the length from
// which more bytes could still make one (0 when none can). It knows the
// shapes a line of register-reading meters carries: exception replies,
// read replies with their byte count, and 8-byte requests and write
// replies (an adapter's echo, another master).
func frameAt(b []byte) (n, need int) {
	switch {
	case len(b) == 0:
		return 0, 1
	case b[0] == 0 || b[0] > 247:
		return 0, 0
	case len(b) < 3:
		return 0, 3
	}
	var sizes [2]int
	switch fc := b[1]; {
	case fc&0x80 != 0:
		sizes[0] = 5
	case fc >= 1 && fc <= 4:
		sizes[0], sizes[1] = 8, 5+int(b[2])
	case fc == 5 || fc == 6 || fc == 15 || fc == 16:
		sizes[0] = 8
	}
	for _, size := range sizes {
		switch {
		case size == 0:
		case size > len(b):
			need = max(need, size)
		case crcOK(b[:size]):
			return size, 0
		}
	}
	return 0, need
}

// crcOK checks the CRC-16/MODBUS at the end of a frame (low byte first).
func crcOK(f []byte) bool {
	n := len(f) - 2
	return CRC16(f[:n]) == binary.LittleEndian.Uint16(f[n:])
}

// CRC16 computes CRC-16/MODBUS, the checksum that ends every RTU frame.
func CRC16(b []byte) uint16 {
	c := uint16(0xFFFF)
	for _, x := range b {
		c ^= uint16(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
	}
	return c
}
