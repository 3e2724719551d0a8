package chips

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// SPIChip is an emulated chip on an SPI port (one chip select).
type SPIChip interface {
	spiTx(now time.Time, w, r []byte)
	faults() *Faults
}

// Port is an emulated SPI port implementing spi.PortCloser. An unplugged
// chip leaves MISO floating high: every byte reads 0xFF, as on a real
// board with a pull-up, and no error is reported (SPI has no ACK).
type Port struct {
	name  string
	clock func() time.Time
	chip  SPIChip
	mu    sync.Mutex
	conns int
}

var _ spi.PortCloser = (*Port)(nil)

// NewPort returns a port with chip on its chip select; clock gives the
// chip's time (time.Now if nil).
func NewPort(name string, clock func() time.Time, chip SPIChip) *Port {
	if clock == nil {
		clock = time.Now
	}
	return &Port{name: name, clock: clock, chip: chip}
}

// NewSPIPort returns an emulated port for the sim: provider: a BME280 when
// the name ends in ".1" (for example "sim:spi0.1"), an MCP3008 otherwise.
func NewSPIPort(name string, clock func() time.Time) spi.PortCloser {
	if strings.HasSuffix(name, ".1") {
		return NewPort(name, clock, NewBME280())
	}
	return NewPort(name, clock, NewMCP3008(3.3))
}

// Chip returns the chip on the port.
func (p *Port) Chip() SPIChip { return p.chip }

// String returns the port name.
func (p *Port) String() string { return p.name }

// Close implements spi.PortCloser.
func (p *Port) Close() error { return nil }

// LimitSpeed implements spi.PortCloser.
func (p *Port) LimitSpeed(physic.Frequency) error { return nil }

// Connect implements spi.Port. Unlike Linux spidev it may be called again
// (a driver re-initialising), returning an equivalent connection.
func (p *Port) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	if bits != 8 {
		return nil, fmt.Errorf("%s: %d bits per word not supported", p.name, bits)
	}
	if mode&spi.HalfDuplex != 0 {
		return nil, fmt.Errorf("%s: half duplex not supported", p.name)
	}
	p.mu.Lock()
	p.conns++
	p.mu.Unlock()
	return &spiConn{p: p}, nil
}

type spiConn struct{ p *Port }

func (c *spiConn) String() string      { return c.p.name }
func (c *spiConn) Duplex() conn.Duplex { return conn.Full }
func (c *spiConn) TxPackets([]spi.Packet) error {
	return fmt.Errorf("%s: TxPackets not supported", c.p.name)
}

func (c *spiConn) Tx(w, r []byte) error {
	if len(r) != 0 && len(w) != len(r) {
		return fmt.Errorf("%s: full duplex needs len(w) == len(r), got %d and %d", c.p.name, len(w), len(r))
	}
	if r == nil {
		r = make([]byte, len(w))
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	f := c.p.chip.faults()
	reset, err := f.begin()
	if err != nil {
		for i := range r {
			r[i] = 0xFF
		}
		return nil
	}
	if reset {
		if rs, ok := c.p.chip.(interface{ reset() }); ok {
			rs.reset()
		}
	}
	c.p.chip.spiTx(c.p.clock(), w, r)
	return nil
}

// spiTx makes the BME280 an SPIChip.
var _ SPIChip = (*BME280)(nil)

// MCP3008 emulates a Microchip MCP3008 10-bit ADC: start bit, single/diff
// bit, 3-bit channel, a null bit then 10 data bits, MSB first, in the
// standard 3-byte framing.
type MCP3008 struct {
	Faults
	vref   float64
	inputs [8]func(time.Time) float64
}

// NewMCP3008 returns an MCP3008 with reference vref volts whose inputs
// carry slowly varying voltages between 0 and vref.
func NewMCP3008(vref float64) *MCP3008 {
	c := &MCP3008{vref: vref}
	for i := range c.inputs {
		c.inputs[i] = func(t time.Time) float64 { return wave(t, vref*(0.1+0.1*float64(i)), vref*0.05, time.Hour, float64(i)) }
	}
	return c
}

// SetInput fixes the voltage on CHn (n 0–7).
func (c *MCP3008) SetInput(n int, volts float64) {
	c.inputs[n] = func(time.Time) float64 { return volts }
}

func (c *MCP3008) spiTx(now time.Time, w, r []byte) {
	for i := range r {
		r[i] = 0xFF
	}
	// Find the start bit: the first 1 bit of the stream.
	bits := len(w) * 8
	bit := func(i int) bool { return w[i/8]>>(7-i%8)&1 != 0 }
	s := 0
	for s < bits && !bit(s) {
		s++
	}
	if s+5 > bits {
		return
	}
	single := bit(s + 1)
	ch := 0
	for k := 2; k <= 4; k++ {
		ch <<= 1
		if bit(s + k) {
			ch |= 1
		}
	}
	t := c.valueTime(now)
	var v float64
	if single {
		v = c.inputs[ch](t)
	} else {
		a, b := ch&^1, ch|1
		if ch&1 != 0 {
			a, b = b, a
		}
		v = c.inputs[a](t) - c.inputs[b](t)
	}
	code := int(math.Round(v / c.vref * 1024))
	code = max(0, min(1023, code))
	// Null bit at s+6 (after the sample period at s+5), data MSB first from
	// s+7. MISO is low from the null bit on.
	set := func(i int, one bool) {
		if i >= bits {
			return
		}
		if one {
			r[i/8] |= 1 << (7 - i%8)
		} else {
			r[i/8] &^= 1 << (7 - i%8)
		}
	}
	set(s+6, false)
	for k := range 10 {
		set(s+7+k, code>>(9-k)&1 != 0)
	}
	for i := s + 17; i < bits; i++ {
		set(i, false)
	}
}
