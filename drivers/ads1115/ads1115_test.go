package ads1115_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/testclock"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/ads1115"
	"github.com/edgegw/edgegw/drivers/internal/drivertest"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/sim/chips"
)

func TestConfigAndVolts(t *testing.T) {
	if got := ads1115.Config("a0", 4.096, 4); got != 0xC383 {
		t.Errorf("Config(a0, 4.096) = %#04x, want 0xc383", got)
	}
	if got := ads1115.Config("a1", 4.096, 4); got != 0xD383 {
		t.Errorf("Config(a1, 4.096) = %#04x, want 0xd383", got)
	}
	if got := ads1115.Config("a0-a1", 2.048, 4); got != 0x8583 {
		t.Errorf("Config(a0-a1, 2.048) = %#04x, want 0x8583 (reset default)", got)
	}
	tests := []struct {
		raw  int16
		fs   float64
		want float64
	}{{0x4000, 4.096, 2.048}, {10000, 2.048, 0.625}, {-1, 2.048, -62.5e-6}, {32767, 6.144, 6.144 * 32767 / 32768}, {-32768, 0.256, -0.256}}
	for _, tt := range tests {
		if got := ads1115.Volts(tt.raw, tt.fs); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("Volts(%d, %g) = %v, want %v", tt.raw, tt.fs, got, tt.want)
		}
	}
}

func TestPlayback(t *testing.T) {
	ops := []i2ctest.IO{
		{Addr: 0x48, W: []byte{0x01}, R: []byte{0x85, 0x83}},
		{Addr: 0x48, W: []byte{0x01, 0xC3, 0x83}},
		{Addr: 0x48, W: []byte{0x01}, R: []byte{0x43, 0x83}}, // busy
		{Addr: 0x48, W: []byte{0x01}, R: []byte{0xC3, 0x83}},
		{Addr: 0x48, W: []byte{0x00}, R: []byte{0x40, 0x00}},
	}
	rs, err := drivertest.Replay(t, ops, func(bus i2c.Bus, clk *testclock.Clock) (*ads1115.Dev, error) {
		return ads1115.New(bus, &ads1115.Opts{Common: drivers.Common{Now: clk.Now}, Sleep: clk.Sleep, Inputs: []ads1115.Input{
			{Name: "no2", Mux: "a0", FS: 4.096, Cal: &ads1115.Calibration{Zero: 0.048, Span: 2.048, SpanPPB: 1000}},
		}})
	})
	must.NoError(t, err)
	if rs[0].Value != 1000 || rs[0].Unit != reading.PPB {
		t.Errorf("reading %+v, want 1000 ppb", rs[0])
	}
}

func TestEmulator(t *testing.T) {
	ctx := context.Background()
	chip := chips.NewADS1115()
	clk, bus := drivertest.I2C(0x49, chip)
	d, err := ads1115.New(bus, &ads1115.Opts{Common: drivers.Common{Now: clk.Now, Warmup: time.Hour, StuckAfter: 4}, Addr: 0x49, Sleep: clk.Sleep, Inputs: []ads1115.Input{
		{Name: "v", Mux: "a2", FS: 4.096},
		{Name: "sat", Mux: "a3", FS: 0.256},
	}})
	must.NoError(t, err)
	chip.SetInput(2, 1.5)
	chip.SetInput(3, 1.0)
	rs, err := d.Read(ctx)
	must.NoError(t, err)
	if math.Abs(rs[0].Value-1.5) > 125e-6 || rs[0].Flags != reading.WarmingUp {
		t.Errorf("v = %+v", rs[0])
	}
	if ch := d.Channels()[1]; rs[1].Value < ch.Max-0.001 {
		t.Errorf("saturated input %v, want at full scale %v", rs[1].Value, ch.Max)
	}
	chip.Unplug()
	if _, err := d.Read(ctx); !errors.Is(err, chips.ErrNACK) || !strings.HasPrefix(err.Error(), "ads1115@sim:i2c-1:0x49: ") {
		t.Fatalf("unplugged Read = %v", err)
	}
	chip.Replug()
	if _, err := d.Read(ctx); err != nil {
		t.Fatalf("Read after replug = %v", err)
	}
	if _, err := ads1115.New(bus, &ads1115.Opts{Inputs: []ads1115.Input{{Name: "x", Mux: "a4", FS: 4.096}}}); err == nil {
		t.Error("bad mux accepted")
	}
}
