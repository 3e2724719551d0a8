// Package drivertest holds what the drivers' tests share: a read over a
// playback of I²C transactions, an emulated I²C bus with one chip on a
// manual clock, and the life of a measuring sensor
// (warm-up, a corrupted reply, unplug and replug, a frozen value, halt) that
// every driver of such a chip must get through. It is imported by tests
// only.
package drivertest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/testclock"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/sensirion"
	"github.com/edgegw/edgegw/drivers/sim/chips"
)

// Replay builds a device with newDev on a playback of the I²C transactions
// ops (periph's i2ctest) and a manual clock, reads it once and returns what
// Read returned. After a Read without error it checks that every
// transaction of ops was made.
func Replay[S drivers.Sensor](t *testing.T, ops []i2ctest.IO, newDev func(i2c.Bus, *testclock.Clock) (S, error)) ([]reading.Reading, error) {
	t.Helper()
	var clk testclock.Clock
	bus := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := newDev(bus, &clk)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := d.Read(context.Background())
	if err == nil {
		if err := bus.Close(); err != nil {
			t.Errorf("after Read: %v", err)
		}
	}
	return rs, err
}

// I2C returns an emulated I²C bus named sim:i2c-1 with chip at addr, and the
// manual clock the bus and the chip run on.
func I2C(addr uint16, chip chips.Chip) (*testclock.Clock, *chips.Bus) {
	clk := &testclock.Clock{}
	bus := chips.NewBus("sim:i2c-1", clk.Now)
	bus.Attach(addr, chip)
	return clk, bus
}

// MeasuringChip is an emulated chip that measures periodically once started,
// with the faults Life injects.
type MeasuringChip interface {
	chips.Chip
	CorruptNext(n int)
	Unplug()
	Replug()
	Freeze(on bool)
	Measuring() bool
}

// Sensor is a driver's device with declared channels.
type Sensor interface {
	drivers.Sensor
	Channels() []reading.Channel
}

// Life is a driver's device on an emulated measuring chip, for CheckLife.
type Life struct {
	Dev        Sensor        // on the chip, built with Clock's Now and Sleep
	Chip       MeasuringChip // the chip, on sim:i2c-1
	Clock      *testclock.Clock
	Period     time.Duration // from one sample to the next
	Warmup     time.Duration // the device's warm-up
	StuckAfter int           // the device's stuck_after
	// Channel is the index of a channel whose warm value must lie in
	// [Min, Max].
	Channel  int
	Min, Max float64
}

// CheckLife takes l.Dev through its chip's life: the first Read starts the
// measurement and has no data yet; the first sample is flagged warming-up,
// a sample after the warm-up is not; a corrupted reply is a CRC error after
// which the measurement goes on; an unplugged chip gives an error naming
// the device and the missing acknowledge; a replugged one (idle after
// power-up) is started again; a frozen value is declared stuck after
// l.StuckAfter polls; Halt stops the measurement.
func CheckLife(t *testing.T, l Life) {
	t.Helper()
	ctx := context.Background()
	read := func() ([]reading.Reading, error) { l.Clock.Advance(l.Period); return l.Dev.Read(ctx) }
	if _, err := l.Dev.Read(ctx); !errors.Is(err, drivers.ErrNoData) || !l.Chip.Measuring() {
		t.Fatalf("first Read = %v; want measurement started, no data before the first sample", err)
	}
	rs, err := read()
	if err != nil || rs[0].Flags != reading.WarmingUp {
		t.Fatalf("Read of the first sample = %v, %v; want it flagged warming-up", rs, err)
	}
	l.Clock.Advance(l.Warmup)
	if rs, err = read(); err != nil || rs[l.Channel].Flags != 0 || rs[l.Channel].Value < l.Min || rs[l.Channel].Value > l.Max {
		t.Fatalf("warm Read = %v, %v; want %s in %g..%g, not flagged", rs, err, l.Dev.Channels()[l.Channel].Name, l.Min, l.Max)
	}
	l.Chip.CorruptNext(1)
	if _, err = read(); !errors.Is(err, sensirion.ErrCRC) {
		t.Fatalf("corrupted Read = %v, want crc mismatch", err)
	}
	if _, err = read(); err != nil {
		t.Fatalf("Read after crc error = %v (the chip must keep running)", err)
	}
	l.Chip.Unplug()
	if _, err = read(); err == nil || !strings.HasPrefix(err.Error(), l.Dev.String()+": ") || !errors.Is(err, chips.ErrNACK) {
		t.Fatalf("unplugged Read = %v, want a missing acknowledge named after %s", err, l.Dev)
	}
	l.Chip.Replug() // powers up idle: the driver must start measuring again
	if _, err = read(); !errors.Is(err, drivers.ErrNoData) || !l.Chip.Measuring() {
		t.Fatalf("Read after replug = %v; want re-initialised, measuring, first sample pending", err)
	}
	if rs, err = read(); err != nil || rs[0].Flags != reading.WarmingUp {
		t.Fatalf("Read after restart = %v, %v; want warming up", rs, err)
	}
	l.Chip.Freeze(true)
	a, _ := read()
	b, _ := read()
	if a[l.Channel].Value != b[l.Channel].Value || l.Dev.Channels()[l.Channel].StuckAfter != l.StuckAfter {
		t.Errorf("frozen chip: %v then %v; channels %+v, want stuck after %d", a[l.Channel].Value, b[l.Channel].Value, l.Dev.Channels(), l.StuckAfter)
	}
	if err := l.Dev.Halt(); err != nil {
		t.Errorf("Halt = %v", err)
	}
	l.Clock.Advance(l.Period) // let a reset take effect
	if l.Chip.Measuring() {
		t.Error("still measuring after Halt")
	}
}
