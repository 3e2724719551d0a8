package sps30_test

import (
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
	"github.com/edgegw/edgegw/drivers/sensirion"
	"github.com/edgegw/edgegw/drivers/sim/chips"
	"github.com/edgegw/edgegw/drivers/sps30"
)

// frame is a float measured-values frame: 10.0 ug/m3 (41 20 00 00) for
// every value, each word with its CRC.
func frame() []byte {
	var b []byte
	for range 10 {
		b = append(b, 0x41, 0x20, 0x7A, 0x00, 0x00, 0x81)
	}
	return b
}

func TestPlayback(t *testing.T) {
	bad := frame()
	bad[59] ^= 1
	tests := []struct {
		name    string
		reply   []byte
		wantErr string
	}{
		{"ten floats", frame(), ""},
		{"bad crc", bad, "sps30@playback:0x69: command 0x0300: word 19 (00 00): crc mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops := []i2ctest.IO{
				{Addr: 0x69, W: []byte{0xD3, 0x04}},
				{Addr: 0x69, W: []byte{0x00, 0x10, 0x03, 0x00, 0xAC}},
				{Addr: 0x69, W: []byte{0x02, 0x02}},
				{Addr: 0x69, R: []byte{0x00, 0x01, 0xB0}},
				{Addr: 0x69, W: []byte{0x03, 0x00}},
				{Addr: 0x69, R: tt.reply},
			}
			rs, err := drivertest.Replay(t, ops, func(bus i2c.Bus, clk *testclock.Clock) (*sps30.Dev, error) {
				return sps30.New(bus, &sps30.Opts{Common: drivers.Common{Now: clk.Now}, Sleep: clk.Sleep})
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, sensirion.ErrCRC) || rs != nil {
					t.Fatalf("Read = %v, %v; want %q", rs, err, tt.wantErr)
				}
				return
			}
			must.NoError(t, err)
			if len(rs) != 10 || rs[1].Channel != "pm25" || rs[1].Value != 10 || rs[9].Unit != sps30.Micrometre || rs[0].Flags != reading.WarmingUp {
				t.Errorf("readings %+v", rs)
			}
		})
	}
}

func TestEmulator(t *testing.T) {
	chip := chips.NewSPS30()
	clk, bus := drivertest.I2C(0x69, chip)
	d, _ := sps30.New(bus, &sps30.Opts{Common: drivers.Common{Now: clk.Now, StuckAfter: 3}, Sleep: clk.Sleep})
	drivertest.CheckLife(t, drivertest.Life{Dev: d, Chip: chip, Clock: clk, Period: time.Second, Warmup: 30 * time.Second, StuckAfter: 3, Channel: 1, Min: 5, Max: 40})
}

func TestOutOfRangeDeclared(t *testing.T) {
	d, _ := sps30.New(chips.NewBus("b", nil), nil)
	for _, c := range d.Channels()[:4] {
		if c.Min != 0 || c.Max != 1000 || c.Unit != reading.MicrogramM {
			t.Errorf("channel %+v", c)
		}
	}
}

// FuzzDecode feeds arbitrary CRC-valid frames to the value decoder.
func FuzzDecode(f *testing.F) {
	f.Add(frame())
	f.Fuzz(func(t *testing.T, b []byte) {
		ws, err := sensirion.Words(b)
		if err != nil {
			return
		}
		v, err := sps30.Decode(ws)
		if err == nil && len(ws) != 20 {
			t.Fatalf("Decode accepted %d words", len(ws))
		}
		for _, x := range v {
			if x != x {
				t.Fatal("NaN accepted")
			}
		}
	})
}
