package modbusmeter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/goburrow/modbus"
	"github.com/goburrow/serial"
)

// Client reads registers from the units on one serial line. Bus is the
// real implementation; tests may provide their own.
type Client interface {
	// ReadRegisters reads count registers from addr with function fc (3 or
	// 4) from unit. Errors wrap ErrTimeout, ErrCRC, ErrFrame, ErrClosed or
	// an *ExceptionError, or are I/O errors.
	ReadRegisters(ctx context.Context, unit uint8, fc uint8, addr, count uint16) ([]uint16, error)
}

// Holder is a Client whose line one caller can hold for several
// transactions, such as the requests of one poll, so that other units'
// transactions do not come between them.
type Holder interface {
	Client
	// Hold takes the line until release is called; c runs transactions
	// on it. Errors are ReadRegisters's for a line that did not come
	// free in time.
	Hold(ctx context.Context) (c Client, release func(), err error)
}

// LineConfig is the serial line setting of a bus.
type LineConfig struct {
	Baud     int           // bits per second, e.g. 9600
	Parity   string        // "N", "E" or "O"
	StopBits int           // 1 or 2
	Timeout  time.Duration // wait for a reply beyond its wire time; default 500ms
	// Quiet is how long the line must stay silent after a failed
	// transaction before the next request, so that a late reply ends
	// before it; at most Quiet+Timeout is spent waiting. Default Timeout.
	Quiet time.Duration
	// Transporter replaces the serial I/O (tests); nil uses the package's
	// RTU transport on the port. It receives whole RTU request frames and
	// returns whole reply frames.
	Transporter modbus.Transporter
}

// String formats the setting as "9600 8N1".
func (c LineConfig) String() string {
	return fmt.Sprintf("%d 8%s%d", c.Baud, c.Parity, c.StopBits)
}

// CharTime is the time one character takes on the line: start, 8 data
// bits, parity and stop bits.
func (c LineConfig) CharTime() time.Duration {
	bits := 1 + 8 + c.StopBits
	if c.Parity != "N" {
		bits++
	}
	return time.Duration(bits) * time.Second / time.Duration(c.Baud)
}

// wire is the time n characters take on the line.
func (c LineConfig) wire(n int) time.Duration { return time.Duration(n) * c.CharTime() }

// silence is the inter-frame gap t3.5 (fixed at 1.75 ms above 19200 baud).
func (c LineConfig) silence() time.Duration {
	if c.Baud > 19200 {
		return 1750 * time.Microsecond
	}
	return 7 * c.CharTime() / 2
}

func (c *LineConfig) normalise() error {
	if c.Baud == 0 {
		c.Baud = 9600
	}
	if c.Parity == "" {
		c.Parity = "N"
	}
	if c.StopBits == 0 {
		c.StopBits = 1
	}
	if c.Timeout == 0 {
		c.Timeout = 500 * time.Millisecond
	}
	if c.Quiet == 0 {
		c.Quiet = c.Timeout
	}
	var errs []error
	if c.Baud < 300 || c.Baud > 230400 {
		errs = append(errs, fmt.Errorf("baud: %d outside 300..230400", c.Baud))
	}
	if c.Parity != "N" && c.Parity != "E" && c.Parity != "O" {
		errs = append(errs, fmt.Errorf("parity: %q is not N, E or O", c.Parity))
	}
	if c.StopBits != 1 && c.StopBits != 2 {
		errs = append(errs, fmt.Errorf("stop_bits: %d is not 1 or 2", c.StopBits))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: %v is negative", c.Timeout))
	}
	if c.Quiet < 0 {
		errs = append(errs, fmt.Errorf("quiet: %v is negative", c.Quiet))
	}
	return errors.Join(errs...)
}

// Bus is one serial port shared by every meter on it. It serialises
// transactions in the order they were asked for, keeps the inter-frame
// silence between them, and after a failed transaction keeps the line quiet
// until a late reply has had time to finish (see rtu for how a reply is
// told from the rest of the line's traffic).
type Bus struct {
	path string
	cfg  LineConfig
	refs int // guarded by ports.mu

	lock    chan struct{} // held (one token) during a transaction; waiters queue in order
	h       *modbus.RTUClientHandler
	client  modbus.Client
	line    *rtu      // the serial transport; nil with a test Transporter
	quietAt time.Time // earliest start of the next request frame
	closed  bool
	sleep   func(time.Duration)

	statsMu sync.Mutex
	stats   LineStats // the transport's, as of its last transaction
}

var _ Holder = (*Bus)(nil)

// ports shares one Bus per serial path between all meters.
var ports = struct {
	mu sync.Mutex
	m  map[string]*Bus
}{m: map[string]*Bus{}}

// OpenBus returns the shared bus on path; the port itself opens at the
// first request (or Connect). Every OpenBus must be matched by a Close; the
// port closes with the last one. Opening a path already open with a
// different line setting is an error: all meters on one RS-485 line must
// use the same setting.
func OpenBus(path string, cfg LineConfig) (*Bus, error) {
	if err := cfg.normalise(); err != nil {
		return nil, err
	}
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if b, ok := ports.m[path]; ok {
		if b.cfg.Baud != cfg.Baud || b.cfg.Parity != cfg.Parity || b.cfg.StopBits != cfg.StopBits || (b.cfg.Transporter == nil) != (cfg.Transporter == nil) {
			return nil, fmt.Errorf("port %s already open at %s, not %s", path, b.cfg, cfg)
		}
		b.refs++
		return b, nil
	}
	b := newBus(path, cfg)
	b.refs = 1
	ports.m[path] = b
	return b, nil
}

func newBus(path string, cfg LineConfig) *Bus {
	// The handler is goburrow's RTU packager (framing, CRC, unit id);
	// the serial I/O is the transport's.
	h := modbus.NewRTUClientHandler(path)
	b := &Bus{path: path, cfg: cfg, h: h, lock: make(chan struct{}, 1), sleep: time.Sleep}
	tr := cfg.Transporter
	if tr == nil {
		b.line = &rtu{path: path, cfg: cfg}
		tr = b.line
	}
	b.client = modbus.NewClient2(h, tr)
	return b
}

// Path returns the device path of the port.
func (b *Bus) Path() string { return b.path }

// Line returns the line setting.
func (b *Bus) Line() LineConfig { return b.cfg }

// LineStats returns what the line carried besides the replies asked for.
func (b *Bus) LineStats() LineStats {
	b.statsMu.Lock()
	defer b.statsMu.Unlock()
	return b.stats
}

// Connect opens the port now, if it is not open, so that a technician
// command reports a missing port before it probes anything. Errors say
// what to do (see drivers.BusError).
func (b *Bus) Connect() error {
	b.lock <- struct{}{}
	defer b.release()
	if b.closed {
		return ErrClosed
	}
	if b.line == nil {
		return nil
	}
	return b.line.connect()
}

// Close releases the caller's share of the bus; the last one closes the
// port.
func (b *Bus) Close() error {
	ports.mu.Lock()
	b.refs--
	last := b.refs <= 0
	if last && ports.m[b.path] == b {
		delete(ports.m, b.path)
	}
	ports.mu.Unlock()
	if !last {
		return nil
	}
	b.lock <- struct{}{}
	defer b.release()
	b.closed = true
	if b.line == nil {
		return nil
	}
	return b.line.close()
}

// acquire takes the line for one transaction, waiting behind the
// transactions asked for before it, until ctx ends.
func (b *Bus) acquire(ctx context.Context) error {
	select {
	case b.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%w: other units held %s until the poll's deadline", ErrLineBusy, b.path)
		}
		return ctx.Err()
	}
}

func (b *Bus) release() { <-b.lock }

// ReadRegisters implements Client: it holds the line for one transaction
// (see Hold and transact).
func (b *Bus) ReadRegisters(ctx context.Context, unit uint8, fc uint8, addr, count uint16) ([]uint16, error) {
	c, release, err := b.Hold(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return c.ReadRegisters(ctx, unit, fc, addr, count)
}

// Hold implements Holder: it waits, behind the callers that asked before,
// until the line is free or ctx ends. A caller whose poll deadline passes
// while other units hold the line gets ErrLineBusy.
func (b *Bus) Hold(ctx context.Context) (Client, func(), error) {
	if err := deadline(ctx); err != nil {
		return nil, nil, err
	}
	if err := b.acquire(ctx); err != nil {
		return nil, nil, err
	}
	return held{b}, b.release, nil
}

// errNotSent reports a request that never went on the line because its
// poll's deadline had passed: a timeout, but not a transaction.
var errNotSent error = notSent{}

type notSent struct{}

func (notSent) Error() string {
	return "timeout: the poll's deadline passed before the request was sent"
}
func (notSent) Is(target error) bool { return target == ErrTimeout }

// deadline returns ctx's error, errNotSent when its deadline passed.
func deadline(ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return errNotSent
	}
	return err
}

// held is a Bus whose line its user holds.
type held struct{ b *Bus }

// ReadRegisters implements Client.
func (h held) ReadRegisters(ctx context.Context, unit uint8, fc uint8, addr, count uint16) ([]uint16, error) {
	return h.b.transact(ctx, unit, fc, addr, count)
}

// transact runs one transaction on the held line. A failed one (timeout,
// CRC or frame error) keeps the line quiet afterwards: it discards input
// until the line has been silent for LineConfig.Quiet, so that a unit
// answering late does not answer into the next transaction.
func (b *Bus) transact(ctx context.Context, unit uint8, fc uint8, addr, count uint16) (regs []uint16, err error) {
	if count < 1 || count > MaxRegs {
		return nil, fmt.Errorf("quantity %d outside 1..125", count)
	}
	if b.closed {
		return nil, ErrClosed
	}
	if err := deadline(ctx); err != nil {
		return nil, err
	}
	if wait := time.Until(b.quietAt); wait > 0 {
		b.sleep(wait)
	}
	b.h.SlaveId = unit
	if b.line != nil {
		b.line.deadline, _ = ctx.Deadline()
	}
	var raw []byte
	func() {
		defer func() {
			// goburrow v0.1.0 indexes an empty reply PDU (a 4-byte
			// frame with a valid CRC) without checking its length.
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: truncated reply (%v)", ErrFrame, r)
			}
		}()
		if fc == ReadHolding {
			raw, err = b.client.ReadHoldingRegisters(addr, count)
		} else {
			raw, err = b.client.ReadInputRegisters(addr, count)
		}
	}()
	if err == nil && len(raw) != 2*int(count) {
		err = fmt.Errorf("%w: %d bytes for %d registers", ErrFrame, len(raw), count)
	}
	if err != nil {
		err = b.classify(fc, err)
	}
	if b.line != nil {
		if errors.Is(err, ErrTimeout) || errors.Is(err, ErrCRC) || errors.Is(err, ErrFrame) {
			b.line.quiet(b.cfg.Quiet, b.cfg.Quiet+b.cfg.Timeout)
		}
		b.quietAt = time.Now().Add(b.cfg.silence())
		b.statsMu.Lock()
		b.stats = b.line.stats
		b.statsMu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	regs = make([]uint16, count)
	for i := range regs {
		regs[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
	}
	return regs, nil
}

// classify maps goburrow's errors to the package's sentinels; the serial
// transport's own errors already wrap them, or are I/O errors.
func (b *Bus) classify(fc uint8, err error) error {
	var me *modbus.ModbusError
	msg := err.Error()
	switch {
	case errors.As(err, &me):
		if me.FunctionCode == fc|0x80 {
			return &ExceptionError{Function: fc, Exception: me.ExceptionCode}
		}
		return fmt.Errorf("%w: unexpected function code 0x%02X", ErrFrame, me.FunctionCode)
	case errors.Is(err, serial.ErrTimeout):
		return fmt.Errorf("%w: no reply within %v", ErrTimeout, b.cfg.Timeout)
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrFrame), errors.Is(err, ErrCRC):
		return err
	case strings.Contains(msg, "crc"):
		return fmt.Errorf("%w: %s", ErrCRC, strings.TrimPrefix(msg, "modbus: "))
	case strings.HasPrefix(msg, "modbus: response"):
		return fmt.Errorf("%w: %s", ErrFrame, strings.TrimPrefix(msg, "modbus: "))
	}
	return err
}
