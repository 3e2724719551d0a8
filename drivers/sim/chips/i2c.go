package chips

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// Chip is an emulated I²C chip attached to a Bus.
type Chip interface {
	// Tx handles one I²C transaction (write w, repeated start, read into r)
	// at time now. It is called with the bus locked.
	Tx(now time.Time, w, r []byte) error
	faults() *Faults
}

// Bus is an emulated I²C bus implementing i2c.BusCloser. Transactions are
// serialised, as on a real bus.
type Bus struct {
	name  string
	clock func() time.Time
	mu    sync.Mutex
	chips map[uint16]Chip
	count int
	rng   *rand.Rand // random faults, nil when off
	rate  float64
}

var _ i2c.BusCloser = (*Bus)(nil)

// NewBus returns an empty emulated bus; clock gives the emulated chips'
// time (time.Now if nil).
func NewBus(name string, clock func() time.Time) *Bus {
	if clock == nil {
		clock = time.Now
	}
	return &Bus{name: name, clock: clock, chips: map[uint16]Chip{}}
}

// NewI2CBus returns an emulated bus with the default population: a BME280 at
// 0x76, an SCD41 at 0x62, an SPS30 at 0x69 and an ADS1115 at 0x48 whose
// inputs carry two electrochemical NO2 sensor outputs (working and
// auxiliary electrodes on AIN0/AIN1) and two slowly varying voltages.
func NewI2CBus(name string, clock func() time.Time) *Bus {
	b := NewBus(name, clock)
	b.Attach(0x76, NewBME280())
	b.Attach(0x62, NewSCD41())
	b.Attach(0x69, NewSPS30())
	b.Attach(0x48, NewADS1115())
	return b
}

// InjectRandomFaults makes each transfer fail with probability rate, drawn
// from a generator seeded with seed: half of the failures are NACKs, the
// other half damage the reply's integrity check (Sensirion CRC). A rate of 0
// turns them off.
func (b *Bus) InjectRandomFaults(rate float64, seed uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rng, b.rate = nil, rate
	if rate > 0 {
		b.rng = rand.New(rand.NewPCG(seed, 0x12c))
	}
}

// Attach places chip at addr, replacing any chip there.
func (b *Bus) Attach(addr uint16, c Chip) {
	b.mu.Lock()
	b.chips[addr] = c
	b.mu.Unlock()
}

// Chip returns the chip at addr, or nil.
func (b *Bus) Chip(addr uint16) Chip {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.chips[addr]
}

// Count is the number of transactions the bus has carried.
func (b *Bus) Count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.count
}

// String returns the bus name.
func (b *Bus) String() string { return b.name }

// Tx implements i2c.Bus.
func (b *Bus) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.count++
	c := b.chips[addr]
	if c == nil {
		return nackError(b.name, addr)
	}
	if b.rng != nil && b.rng.Float64() < b.rate {
		if b.rng.IntN(2) == 0 {
			return nackError(b.name, addr)
		}
		c.faults().CorruptNext(1)
	}
	reset, err := c.faults().begin()
	if err != nil {
		return nackError(b.name, addr)
	}
	if reset {
		if rs, ok := c.(interface{ reset() }); ok {
			rs.reset()
		}
	}
	if err := c.Tx(b.clock(), w, r); err != nil {
		return fmt.Errorf("%s: address 0x%02x: %w", b.name, addr, err)
	}
	return nil
}

// SetSpeed implements i2c.Bus; the emulated bus runs at any speed.
func (b *Bus) SetSpeed(physic.Frequency) error { return nil }

// Close implements i2c.BusCloser.
func (b *Bus) Close() error { return nil }
