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

// LineConfig is the serial line setting of a bus.
type LineConfig struct {
	Baud     int           // bits per second, e.g. 9600
	Parity   string        // "N", "E" or "O"
	StopBits int           // 1 or 2
	Timeout  time.Duration // per read of the reply; bounds a dead unit's cost
	// Transporter replaces the serial I/O (tests); nil uses goburrow's RTU
	// transport on the port. It receives whole RTU request frames and
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
	return errors.Join(errs...)
}

// Bus is one serial port shared by every meter on it. It owns the goburrow
// RTU handler and serialises transactions: one at a time, with the
// inter-frame silence between them, draining stale input after errors and
// reopening the port after I/O errors.
type Bus struct {
	path string
	cfg  LineConfig
	refs int // guarded by ports.mu

	mu      sync.Mutex
	h       *modbus.RTUClientHandler
	client  modbus.Client
	quietAt time.Time // earliest start of the next request frame
	dirty   bool      // an error may have left bytes in the input queue
	closed  bool
	sleep   func(time.Duration)
	drainFn func(path string) error
}

var _ Client = (*Bus)(nil)

// ports shares one Bus per serial path between all meters.
var ports = struct {
	mu sync.Mutex
	m  map[string]*Bus
}{m: map[string]*Bus{}}

// OpenBus returns the shared bus on path, opening it on first use. Every
// OpenBus must be matched by a Close; the port closes with the last one.
// Opening a path already open with a different line setting is an error:
// all meters on one RS-485 line must use the same setting.
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
	h := modbus.NewRTUClientHandler(path)
	h.BaudRate, h.DataBits, h.Parity, h.StopBits = cfg.Baud, 8, cfg.Parity, cfg.StopBits
	h.Timeout = cfg.Timeout
	h.IdleTimeout = 0 // goburrow's idle timer races Send
	b := &Bus{path: path, cfg: cfg, h: h, sleep: time.Sleep, drainFn: drain}
	var tr modbus.Transporter = h
	if cfg.Transporter != nil {
		tr = cfg.Transporter
		b.drainFn = func(string) error { return nil }
	}
	b.client = modbus.NewClient2(h, tr)
	return b
}

// Path returns the device path of the port.
func (b *Bus) Path() string { return b.path }

// Line returns the line setting.
func (b *Bus) Line() LineConfig { return b.cfg }

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
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.cfg.Transporter != nil {
		return nil
	}
	return b.h.Close()
}

// ReadRegisters implements Client.
func (b *Bus) ReadRegisters(ctx context.Context, unit uint8, fc uint8, addr, count uint16) (regs []uint16, err error) {
	if count < 1 || count > MaxRegs {
		return nil, fmt.Errorf("quantity %d outside 1..125", count)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if wait := time.Until(b.quietAt); wait > 0 {
		b.sleep(wait)
	}
	if b.dirty {
		// A late reply to an earlier request would be read as this one's.
		_ = b.drainFn(b.path)
		b.dirty = false
	}
	b.h.SlaveId = unit
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
	if b.cfg.Transporter == nil {
		b.quietAt = time.Now().Add(b.cfg.silence())
	}
	if err == nil && len(raw) != 2*int(count) {
		err = fmt.Errorf("%w: %d bytes for %d registers", ErrFrame, len(raw), count)
	}
	if err != nil {
		err = b.classify(fc, err)
		b.dirty = true
		return nil, err
	}
	regs = make([]uint16, count)
	for i := range regs {
		regs[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
	}
	return regs, nil
}

// classify maps goburrow's errors to the package's sentinels and reopens
// the port after I/O errors. It runs with b.mu held.
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
		return fmt.Errorf("%w after %v", ErrTimeout, b.cfg.Timeout)
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrFrame), errors.Is(err, ErrCRC):
		return err
	case strings.Contains(msg, "crc"):
		return fmt.Errorf("%w: %s", ErrCRC, strings.TrimPrefix(msg, "modbus: "))
	case strings.HasPrefix(msg, "modbus: response"):
		return fmt.Errorf("%w: %s", ErrFrame, strings.TrimPrefix(msg, "modbus: "))
	}
	// An I/O error (adapter unplugged, port vanished): close, so that the
	// next request opens the port again.
	if b.cfg.Transporter == nil {
		_ = b.h.Close()
	}
	return err
}
