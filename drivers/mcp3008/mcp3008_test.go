package mcp3008_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/testclock"

	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/spi/spitest"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/mcp3008"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/sim/chips"
)

func TestFrame(t *testing.T) {
	tests := []struct {
		single bool
		ch     int
		want   [3]byte
	}{{true, 0, [3]byte{1, 0x80, 0}}, {true, 3, [3]byte{1, 0xB0, 0}}, {true, 7, [3]byte{1, 0xF0, 0}}, {false, 1, [3]byte{1, 0x10, 0}}}
	for _, tt := range tests {
		if got := mcp3008.Frame(tt.single, tt.ch); got != tt.want {
			t.Errorf("Frame(%v, %d) = % x, want % x", tt.single, tt.ch, got, tt.want)
		}
	}
}

func TestPlayback(t *testing.T) {
	port := &spitest.Playback{Playback: conntest.Playback{DontPanic: true, Ops: []conntest.IO{
		{W: []byte{1, 0x80, 0}, R: []byte{0xFF, 0x02, 0x00}}, // 512 = vref/2
		{W: []byte{1, 0xB0, 0}, R: []byte{0xFF, 0xFF, 0xFF}}, // MISO floating high: no chip
	}}}
	d, err := mcp3008.New(port, &mcp3008.Opts{VRef: 3.3, Inputs: []mcp3008.Input{{Name: "a0", Single: true, Ch: 0}}})
	must.NoError(t, err)
	rs, err := d.Read(context.Background())
	if err != nil || rs[0].Value != 1.65 {
		t.Fatalf("Read = %v, %v; want 1.65 V", rs, err)
	}
	d2, _ := mcp3008.New(&spitest.Playback{Playback: conntest.Playback{DontPanic: true, Ops: port.Ops[1:]}}, &mcp3008.Opts{Inputs: []mcp3008.Input{{Name: "a3", Single: true, Ch: 3}}})
	if _, err := d2.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "null bit high") {
		t.Errorf("floating MISO: %v", err)
	}
}

func TestEmulator(t *testing.T) {
	clk := &testclock.Clock{}
	chip := chips.NewMCP3008(3.3)
	port := chips.NewPort("sim:spi0.0", clk.Now, chip)
	d, err := mcp3008.New(port, &mcp3008.Opts{Common: drivers.Common{Now: clk.Now, Warmup: time.Minute, StuckAfter: 5}, Inputs: []mcp3008.Input{
		{Name: "o3", Single: true, Ch: 2, Cal: &mcp3008.Calibration{Zero: 0.4, Span: 0.9, SpanPPB: 500}},
		{Name: "d", Ch: 4},
	}})
	must.NoError(t, err)
	chip.SetInput(2, 0.65)
	chip.SetInput(4, 2.0)
	chip.SetInput(5, 1.0)
	rs, err := d.Read(context.Background())
	must.NoError(t, err)
	if rs[0].Unit != reading.PPB || rs[0].Value < 248 || rs[0].Value > 252 || rs[0].Flags != reading.WarmingUp {
		t.Errorf("o3 = %+v, want ≈250 ppb warming up", rs[0])
	}
	if rs[1].Value < 0.99 || rs[1].Value > 1.01 {
		t.Errorf("differential = %v, want ≈1 V", rs[1].Value)
	}
	chip.Unplug()
	if _, err := d.Read(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "mcp3008@sim:spi0.0: o3: null bit high") {
		t.Fatalf("unplugged Read = %v", err)
	}
	chip.Replug()
	clk.Advance(2 * time.Minute)
	if rs, err = d.Read(context.Background()); err != nil || rs[0].Flags != reading.WarmingUp {
		t.Fatalf("Read after replug = %v, %v (want warming up again)", rs, err)
	}
}
