package scd4x_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/testclock"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/internal/drivertest"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/scd4x"
	"github.com/edgegw/edgegw/drivers/sensirion"
	"github.com/edgegw/edgegw/drivers/sim/chips"
)

func TestConvert(t *testing.T) {
	tests := []struct {
		co2, t, rh    uint16
		wantT, wantRH float64
	}{
		{500, 0x6667, 0x5EB9, 25.0027, 37.0016},
		{0, 0x8000, 0x8000, 42.5013, 50.0008},
		{0, 0, 0, -45, 0},
	}
	for _, tt := range tests {
		co2, c, rh := scd4x.Convert(tt.co2, tt.t, tt.rh)
		if co2 != float64(tt.co2) || c-tt.wantT > 1e-4 || tt.wantT-c > 1e-4 || rh-tt.wantRH > 1e-4 || tt.wantRH-rh > 1e-4 {
			t.Errorf("Convert(%d, %#x, %#x) = %v, %v, %v", tt.co2, tt.t, tt.rh, co2, c, rh)
		}
	}
}

func initOps() []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x62, W: []byte{0x3F, 0x86}},
		{Addr: 0x62, W: []byte{0x36, 0x82}},
		{Addr: 0x62, R: []byte{0xBE, 0xEF, 0x92, 0x00, 0x00, 0x81, 0x00, 0x01, 0xB0}},
		{Addr: 0x62, W: []byte{0x21, 0xB1}},
		{Addr: 0x62, W: []byte{0xE4, 0xB8}},
		{Addr: 0x62, R: []byte{0x80, 0x06, sensirion.CRC8([]byte{0x80, 0x06})}},
		{Addr: 0x62, W: []byte{0xEC, 0x05}},
	}
}

func TestPlayback(t *testing.T) {
	tests := []struct {
		name    string
		reply   []byte
		wantErr string
	}{
		{"datasheet vector", []byte{0x01, 0xF4, 0x33, 0x66, 0x67, 0xA2, 0x5E, 0xB9, 0x3C}, ""},
		{"bad crc", []byte{0x01, 0xF4, 0x33, 0x66, 0x67, 0xA2, 0x5E, 0xB9, 0x3D}, "scd4x@playback:0x62: command 0xec05: word 2 (5e b9): crc mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := drivertest.Replay(t, append(initOps(), i2ctest.IO{Addr: 0x62, R: tt.reply}), func(bus i2c.Bus, clk *testclock.Clock) (*scd4x.Dev, error) {
				return scd4x.New(bus, &scd4x.Opts{Common: drivers.Common{Now: clk.Now}, Sleep: clk.Sleep})
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, sensirion.ErrCRC) || rs != nil {
					t.Fatalf("Read = %v, %v; want %q and no readings", rs, err, tt.wantErr)
				}
				return
			}
			must.NoError(t, err)
			if rs[0].Value != 500 || rs[0].Flags != reading.WarmingUp || rs[1].Channel != "t" {
				t.Errorf("readings %+v", rs)
			}
		})
	}
}

func TestEmulator(t *testing.T) {
	chip := chips.NewSCD41()
	clk, bus := drivertest.I2C(0x62, chip)
	d, _ := scd4x.New(bus, &scd4x.Opts{Common: drivers.Common{Device: "co2", Now: clk.Now, Warmup: 20 * time.Second, StuckAfter: 2}, Sleep: clk.Sleep})
	drivertest.CheckLife(t, drivertest.Life{Dev: d, Chip: chip, Clock: clk, Period: 5 * time.Second, Warmup: 20 * time.Second, StuckAfter: 2, Channel: 0, Min: 300, Max: 700})
	if ch := d.Channels()[0]; ch.Name != "co2" || ch.Max != 40000 {
		t.Errorf("co2 channel %+v, want the range up to 40000 ppm", ch)
	}
}

// TestFirstSampleDoesNotHoldThePoll: before the first sample of a
// measurement is due, Read says there is no data instead of waiting for it.
func TestFirstSampleDoesNotHoldThePoll(t *testing.T) {
	clk, bus := drivertest.I2C(0x62, chips.NewSCD41())
	d, _ := scd4x.New(bus, &scd4x.Opts{Common: drivers.Common{Now: clk.Now}, Sleep: clk.Sleep, ReadyTimeout: time.Second})
	start := clk.Now()
	_, err := d.Read(context.Background())
	if !errors.Is(err, drivers.ErrNoData) || !strings.Contains(err.Error(), "first sample due 5s after start") {
		t.Fatalf("Read = %v", err)
	}
	if waited := clk.Now().Sub(start); waited > 2*time.Second {
		t.Errorf("the first Read waited %v (init included)", waited)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Read = %v", err)
	}
}
