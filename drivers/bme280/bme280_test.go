package bme280_test

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
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/bmxx80"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/bme280"
	"github.com/edgegw/edgegw/drivers/internal/drivertest"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/sim/chips"
)

// Datasheet calibration (T/P) and the humidity calibration of
// shared/reference/sensors.md, with adc_T=519888, adc_P=415148,
// adc_H=30000.
var (
	cal88  = []byte{0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC, 0x7D, 0x8E, 0x43, 0xD6, 0xD0, 0x0B, 0x27, 0x0B, 0x8C, 0x00, 0xF9, 0xFF, 0x8C, 0x3C, 0xF8, 0xC6, 0x70, 0x17, 0x00, 0x4B}
	calE1  = []byte{0x6E, 0x01, 0x00, 0x13, 0x05, 0x00, 0x1E}
	dataF7 = []byte{0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x75, 0x30}
)

func TestCompensateDatasheet(t *testing.T) {
	c := bme280.ParseCalibration([26]byte(cal88), [7]byte(calE1))
	if c.T1 != 27504 || c.T2 != 26435 || c.T3 != -1000 || c.P1 != 36477 || c.P2 != -10685 || c.P9 != 6000 || c.H1 != 75 || c.H2 != 366 || c.H4 != 309 || c.H5 != 0 || c.H6 != 30 {
		t.Fatalf("ParseCalibration = %+v", c)
	}
	tt, p, h := c.Compensate(519888, 415148, 30000)
	if tt != 2508 || p != 25767233 || h != 59317 {
		t.Errorf("Compensate = %d, %d, %d; want 2508, 25767233, 59317", tt, p, h)
	}
}

// script is the exact I²C conversation of one initialisation with the
// calibration blocks tp (0x88…) and h (0xE1…) and the start of one read,
// up to a status read that returns status.
func script(tp, h []byte, status byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x76, W: []byte{0xD0}, R: []byte{0x60}},
		{Addr: 0x76, W: []byte{0xE0, 0xB6}},
		{Addr: 0x76, W: []byte{0xF3}, R: []byte{0x00}},
		{Addr: 0x76, W: []byte{0x88}, R: tp},
		{Addr: 0x76, W: []byte{0xE1}, R: h},
		{Addr: 0x76, W: []byte{0xF2, 0x01, 0xF5, 0x00, 0xF4, 0x24}},
		{Addr: 0x76, W: []byte{0xF2, 0x01, 0xF4, 0x25}},
		{Addr: 0x76, W: []byte{0xF3}, R: []byte{status}},
	}
}

func TestPlaybackDatasheetMatchesPeriph(t *testing.T) {
	ops := append(script(cal88, calE1, 0x00), i2ctest.IO{Addr: 0x76, W: []byte{0xF7}, R: dataF7})
	rs, err := drivertest.Replay(t, ops, func(bus i2c.Bus, clk *testclock.Clock) (*bme280.Dev, error) {
		return bme280.New(bus, &bme280.Opts{Common: drivers.Common{Device: "aq", Now: clk.Now}, Sleep: clk.Sleep})
	})
	must.NoError(t, err)
	want := map[string]float64{"t": 25.08, "p": 25767233.0 / 256, "rh": 59317.0 / 1024}
	for _, r := range rs {
		if math.Abs(r.Value-want[r.Channel]) > 1e-9 || r.Flags != 0 || r.Device != "aq" {
			t.Errorf("%s = %v flags %v, want %v", r.Channel, r.Value, r.Flags, want[r.Channel])
		}
	}
	// periph's bmxx80 on its own script with the same bytes agrees.
	pb := &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: 0x76, W: []byte{0xD0}, R: []byte{0x60}},
		{Addr: 0x76, W: []byte{0x88}, R: cal88},
		{Addr: 0x76, W: []byte{0xE1}, R: calE1},
		{Addr: 0x76, W: []byte{0xF4, 0x6C, 0xF2, 0x03, 0xF5, 0xA0, 0xF4, 0x6C}},
		{Addr: 0x76, W: []byte{0xF4, 0x6D}},
		{Addr: 0x76, W: []byte{0xF3}, R: []byte{0x00}},
		{Addr: 0x76, W: []byte{0xF7}, R: dataF7},
	}}
	pd, err := bmxx80.NewI2C(pb, 0x76, &bmxx80.DefaultOpts)
	must.NoError(t, err)
	var e physic.Env
	must.NoError(t, pd.Sense(&e))
	if got := e.Temperature.Celsius(); math.Abs(got-rs[0].Value) > 0.001 {
		t.Errorf("bmxx80 t = %v, ours %v", got, rs[0].Value)
	}
	if got := float64(e.Pressure) / float64(physic.Pascal); math.Abs(got-rs[2].Value) > 0.01 {
		t.Errorf("bmxx80 p = %v, ours %v", got, rs[2].Value)
	}
	if got := float64(e.Humidity) / float64(physic.PercentRH); math.Abs(got-rs[1].Value) > 0.001 {
		t.Errorf("bmxx80 rh = %v, ours %v", got, rs[1].Value)
	}
}

func TestPlaybackStuckBusyIsBounded(t *testing.T) {
	ops := script(cal88, calE1, 0x08)
	for range 60 {
		ops = append(ops, i2ctest.IO{Addr: 0x76, W: []byte{0xF3}, R: []byte{0x08}})
	}
	_, err := drivertest.Replay(t, ops, func(bus i2c.Bus, clk *testclock.Clock) (*bme280.Dev, error) {
		return bme280.New(bus, &bme280.Opts{Common: drivers.Common{Now: clk.Now}, Sleep: clk.Sleep, ReadyTimeout: 20 * time.Millisecond})
	})
	if err == nil || !strings.Contains(err.Error(), "bme280@playback:0x76: measurement still busy after 20ms") {
		t.Fatalf("Read = %v, want a bounded busy error", err)
	}
}

func newEmu(t *testing.T, opts bme280.Opts) (*bme280.Dev, *chips.BME280, *testclock.Clock) {
	t.Helper()
	chip := chips.NewBME280()
	clk, bus := drivertest.I2C(0x76, chip)
	opts.Now, opts.Sleep = clk.Now, clk.Sleep
	d, err := bme280.New(bus, &opts)
	must.NoError(t, err)
	return d, chip, clk
}

func TestEmulatorLifecycle(t *testing.T) {
	ctx := context.Background()
	d, chip, clk := newEmu(t, bme280.Opts{Common: drivers.Common{Warmup: 5 * time.Second, StuckAfter: 3}})
	tests := []struct {
		name    string
		before  func()
		wantErr string
		check   func(t *testing.T, rs []reading.Reading)
	}{
		{"warming up", nil, "", func(t *testing.T, rs []reading.Reading) {
			if rs[0].Flags != reading.WarmingUp {
				t.Errorf("flags %v, want warming-up", rs[0].Flags)
			}
		}},
		{"warm", func() { clk.Advance(10 * time.Second) }, "", func(t *testing.T, rs []reading.Reading) {
			if rs[0].Flags != 0 || rs[0].Value < 15 || rs[0].Value > 35 {
				t.Errorf("t = %v flags %v", rs[0].Value, rs[0].Flags)
			}
		}},
		{"unplugged", func() { chip.Unplug() }, "bme280@sim:i2c-1:0x76: start measurement: sim:i2c-1: address 0x76: nack", nil},
		{"still gone", nil, "bme280@sim:i2c-1:0x76: init: read chip id", nil},
		{"replugged re-initialises", func() { chip.Replug(); clk.Advance(time.Minute) }, "", func(t *testing.T, rs []reading.Reading) {
			if rs[0].Flags != reading.WarmingUp {
				t.Errorf("after re-init flags %v, want warming-up", rs[0].Flags)
			}
		}},
		{"out of range raw", func() { chip.SetRaw(1000000, 415148, 30000); clk.Advance(time.Minute) }, "", func(t *testing.T, rs []reading.Reading) {
			c := d.Channels()[0]
			if rs[0].Value <= c.Max {
				t.Errorf("t = %v, want above the declared max %v", rs[0].Value, c.Max)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			rs, err := d.Read(ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Read error = %v, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, chips.ErrNACK) && !strings.Contains(tt.wantErr, "init") {
					t.Errorf("error %v does not wrap the NACK", err)
				}
				return
			}
			must.NoError(t, err)
			if len(rs) != 3 {
				t.Fatalf("%d readings", len(rs))
			}
			tt.check(t, rs)
		})
	}
}

func TestEmulatorStuck(t *testing.T) {
	d, chip, clk := newEmu(t, bme280.Opts{Common: drivers.Common{StuckAfter: 3}})
	chip.Freeze(true)
	var prev []reading.Reading
	for i := range 4 {
		clk.Advance(time.Minute)
		rs, err := d.Read(context.Background())
		must.NoError(t, err)
		if i > 0 && rs[0].Value != prev[0].Value {
			t.Fatalf("frozen chip changed: %v → %v", prev[0].Value, rs[0].Value)
		}
		prev = rs
	}
	for _, c := range d.Channels() {
		if c.StuckAfter != 3 {
			t.Errorf("channel %s StuckAfter %d, want 3", c.Name, c.StuckAfter)
		}
	}
	chip.Freeze(false)
	clk.Advance(10 * time.Minute)
	rs, _ := d.Read(context.Background())
	if rs[0].Value == prev[0].Value {
		t.Error("released chip still frozen")
	}
}

func TestSPIEmulator(t *testing.T) {
	clk := &testclock.Clock{}
	chip := chips.NewBME280()
	port := chips.NewPort("sim:spi0.1", clk.Now, chip)
	d, err := bme280.NewSPI(port, &bme280.Opts{Common: drivers.Common{Now: clk.Now}, Sleep: clk.Sleep})
	must.NoError(t, err)
	chip.SetRaw(519888, 415148, 30000)
	rs, err := d.Read(context.Background())
	must.NoError(t, err)
	if rs[0].Value != 25.08 || rs[2].Value != 25767233.0/256 {
		t.Errorf("SPI read %v", rs)
	}
	chip.Unplug() // MISO floats high: status reads 0xFF (busy forever)
	if _, err := d.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "bme280@sim:spi0.1: measurement still busy") {
		t.Errorf("unplugged SPI read = %v", err)
	}
	chip.Replug()
	if _, err := d.Read(context.Background()); err != nil {
		t.Errorf("after replug: %v", err)
	}
}

func TestFactoryOptions(t *testing.T) {
	tests := []struct {
		name string
		opts map[string]any
		want string
	}{
		{"no bus", map[string]any{}, "options.bus: required"},
		{"bad addr", map[string]any{"bus": "x", "addr": 0x90}, "options.addr: 0x90 outside 0x76–0x77"},
		{"unknown", map[string]any{"bus": "x", "colour": "red"}, "options.colour: unknown option"},
		{"bad warmup", map[string]any{"bus": "x", "warmup": "soon"}, "options.warmup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bme280.Factory(drivers.Device{Name: "aq", Options: tt.opts}, drivers.Deps{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Factory = %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzCompensate checks that no calibration or raw value panics and that
// humidity stays within 0–100 %RH.
func FuzzCompensate(f *testing.F) {
	f.Add(cal88, calE1, int32(519888), int32(415148), int32(30000))
	f.Add(make([]byte, 26), make([]byte, 7), int32(0), int32(0), int32(0))
	f.Fuzz(func(t *testing.T, tp, h []byte, adcT, adcP, adcH int32) {
		if len(tp) < 26 || len(h) < 7 {
			return
		}
		c := bme280.ParseCalibration([26]byte(tp[:26]), [7]byte(h[:7]))
		_, _, rh := c.Compensate(adcT&0xFFFFF, adcP&0xFFFFF, adcH&0xFFFF)
		if rh > 100*1024 {
			t.Fatalf("rh %d > 100 %%", rh)
		}
	})
}
