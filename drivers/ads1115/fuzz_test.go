package ads1115_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/testclock"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/ads1115"
	"github.com/edgegw/edgegw/drivers/sim/chips"
)

// fullScales are the PGA ranges in volts, in the order of their codes.
var fullScales = []float64{6.144, 4.096, 2.048, 1.024, 0.512, 0.256}

// FuzzConversion checks the decoding of the conversion register. Any two
// bytes decode to the value that re-encodes to them, negative exactly when
// the sign bit is set, and to volts within ±FS at every full scale; Read
// reports them as such. A voltage the emulator converts decodes back to
// within one LSB inside ±FS and to the rail outside.
func FuzzConversion(f *testing.F) {
	f.Add([]byte{0x40, 0x00}, uint8(1), 2.048) // datasheet: 0x4000 at ±4.096 V is 2.048 V
	f.Add([]byte{0x27, 0x10}, uint8(2), 0.625) // 10000 at ±2.048 V
	f.Add([]byte{0xFF, 0xFF}, uint8(2), -62.5e-6)
	f.Add([]byte{0x7F, 0xFF}, uint8(0), 7.0)  // positive rail, input above FS
	f.Add([]byte{0x80, 0x00}, uint8(5), -1.0) // negative rail, input below −FS
	f.Add([]byte{0x00, 0x00}, uint8(3), 0.0)
	f.Add([]byte{0x80}, uint8(4), math.NaN()) // short: zero-padded
	f.Fuzz(func(t *testing.T, b []byte, fsCode uint8, volts float64) {
		var reg [2]byte
		copy(reg[:], b)
		raw := ads1115.Conversion(reg)
		if enc := [2]byte{byte(uint16(raw) >> 8), byte(raw)}; enc != reg {
			t.Fatalf("Conversion(% x) = %d, which encodes to % x", reg, raw, enc)
		}
		if (raw < 0) != (reg[0]&0x80 != 0) {
			t.Fatalf("Conversion(% x) = %d: wrong sign", reg, raw)
		}
		for _, fs := range fullScales {
			if v := ads1115.Volts(raw, fs); v < -fs || v >= fs {
				t.Fatalf("Volts(%d, %g) = %v outside ±FS", raw, fs, v)
			}
		}
		fs := fullScales[int(fsCode)%len(fullScales)]

		// Read decodes the register it reads.
		cfg := ads1115.Config("a0", fs, 4)
		var clk testclock.Clock
		bus := &i2ctest.Playback{DontPanic: true, Ops: []i2ctest.IO{
			{Addr: 0x48, W: []byte{0x01}, R: []byte{0x85, 0x83}},
			{Addr: 0x48, W: []byte{0x01, byte(cfg >> 8), byte(cfg)}},
			{Addr: 0x48, W: []byte{0x01}, R: []byte{byte(cfg >> 8), byte(cfg)}},
			{Addr: 0x48, W: []byte{0x00}, R: reg[:]},
		}}
		d, err := ads1115.New(bus, &ads1115.Opts{Common: drivers.Common{Now: clk.Now}, Sleep: clk.Sleep, Inputs: []ads1115.Input{{Name: "a0", Mux: "a0", FS: fs}}})
		must.NoError(t, err)
		rs, err := d.Read(context.Background())
		if err != nil || len(rs) != 1 || rs[0].Value != ads1115.Volts(raw, fs) {
			t.Fatalf("register % x at ±%g V: Read = %v, %v", reg, fs, rs, err)
		}
		must.NoError(t, bus.Close())

		// Round trip through the emulator.
		if math.IsNaN(volts) || math.IsInf(volts, 0) {
			volts = 0
		}
		chip := chips.NewADS1115()
		chip.SetInput(0, volts)
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var out [2]byte
		must.NoError(t, chip.Tx(now, []byte{0x01, byte(cfg >> 8), byte(cfg)}, nil))
		must.NoError(t, chip.Tx(now.Add(time.Second), []byte{0x00}, out[:]))
		got := ads1115.Volts(ads1115.Conversion(out), fs)
		lsb := fs / 32768
		switch {
		case volts >= fs-lsb:
			if got != fs-lsb {
				t.Fatalf("%v V at ±%g V reads %v, want the positive rail", volts, fs, got)
			}
		case volts <= -fs:
			if got != -fs {
				t.Fatalf("%v V at ±%g V reads %v, want the negative rail", volts, fs, got)
			}
		case math.Abs(got-volts) > lsb:
			t.Fatalf("%v V at ±%g V encodes to % x, which reads %v", volts, fs, out, got)
		}
	})
}
