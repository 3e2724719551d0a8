package chips

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// ErrNACK is returned by an emulated bus when no chip acknowledges a
// transfer: no chip at the address, an unplugged chip, or an injected NACK.
var ErrNACK = errors.New("nack")

// Faults is the fault-injection handle every emulated chip embeds. Its
// methods are safe for concurrent use with the bus.
type Faults struct {
	mu       sync.Mutex
	unplug   bool
	replug   bool // set by Replug until the chip has reset itself
	nack     int
	corrupt  int
	frozen   bool
	frozenAt time.Time
}

// Unplug makes the chip vanish: every transfer is NACKed until Replug.
func (f *Faults) Unplug() { f.mu.Lock(); f.unplug = true; f.mu.Unlock() }

// Replug brings the chip back in its power-on reset state.
func (f *Faults) Replug() { f.mu.Lock(); f.unplug, f.replug = false, true; f.mu.Unlock() }

// NACKNext makes the next n transfers fail.
func (f *Faults) NACKNext(n int) { f.mu.Lock(); f.nack = n; f.mu.Unlock() }

// CorruptNext damages the integrity check (Sensirion CRC, PMS5003
// checksum) of the next n replies.
func (f *Faults) CorruptNext(n int) { f.mu.Lock(); f.corrupt = n; f.mu.Unlock() }

// Freeze freezes (true) or releases (false) the measured values, as a
// stuck sensor would.
func (f *Faults) Freeze(on bool) { f.mu.Lock(); f.frozen = on; f.frozenAt = time.Time{}; f.mu.Unlock() }

// faults returns the Faults itself, so chip types satisfy Chip.
func (f *Faults) faults() *Faults { return f }

// begin applies the access faults to one transfer. It reports whether the
// chip was replugged since the last transfer (it must then reset).
func (f *Faults) begin() (reset bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unplug {
		return false, ErrNACK
	}
	if f.nack > 0 {
		f.nack--
		return false, ErrNACK
	}
	reset, f.replug = f.replug, false
	return reset, nil
}

// takeCorrupt reports whether this reply must be damaged.
func (f *Faults) takeCorrupt() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.corrupt > 0 {
		f.corrupt--
		return true
	}
	return false
}

// valueTime is the time at which measured values are computed: now, or the
// moment the values were frozen.
func (f *Faults) valueTime(now time.Time) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.frozen {
		return now
	}
	if f.frozenAt.IsZero() {
		f.frozenAt = now
	}
	return f.frozenAt
}

// wave is base + amp·sin(2π t/period + phase): a slowly varying signal.
func wave(t time.Time, base, amp float64, period time.Duration, phase float64) float64 {
	x := 2*math.Pi*float64(t.UnixNano()%int64(period))/float64(period) + phase
	return base + amp*math.Sin(x)
}

// nackError names the address that did not acknowledge.
func nackError(bus string, addr uint16) error {
	return fmt.Errorf("%s: address 0x%02x: %w", bus, addr, ErrNACK)
}
