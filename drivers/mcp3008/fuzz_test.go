package mcp3008_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/internal/must"

	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/spi/spitest"

	"github.com/edgegw/edgegw/drivers/mcp3008"
	"github.com/edgegw/edgegw/drivers/sim/chips"
)

// FuzzDecode checks the decoding of the 3-byte SPI reply. A reply with the
// null bit high (a floating MISO) is refused, by Read too; an accepted one
// gives a 10-bit code that re-encodes to its data bits and does not depend
// on the bits clocked out before the null bit, and Read reports it as
// code·vref/1024. A voltage the emulator converts on the channel Frame
// selects decodes back to within one LSB inside 0…vref and to the rail
// outside.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0xFF, 0x02, 0x00}, true, uint8(0), 1.65) // datasheet: 512 = vref/2
	f.Add([]byte{0x00, 0x03, 0xFF}, true, uint8(7), 3.3)
	f.Add([]byte{0x00, 0x00, 0x00}, false, uint8(4), 0.0)
	f.Add([]byte{0xFF, 0xFF, 0xFF}, false, uint8(1), -1.0) // floating MISO: no chip
	f.Add([]byte{0xFF, 0xFB, 0xFF}, true, uint8(3), 5.0)   // null bit low, high-Z bits high
	f.Add([]byte{0x01, 0x04}, true, uint8(2), math.Inf(1)) // short: zero-padded, null bit high
	f.Fuzz(func(t *testing.T, b []byte, single bool, ch uint8, volts float64) {
		const vref = 3.3
		var rx [3]byte
		copy(rx[:], b)
		code, err := mcp3008.Decode(rx)
		if null := rx[1]&0x04 != 0; null != (err != nil) {
			t.Fatalf("Decode(% x) = %d, %v; null bit high: %v", rx, code, err, null)
		}
		if err == nil {
			if code < 0 || code > 1023 || byte(code>>8) != rx[1]&0x03 || byte(code) != rx[2] {
				t.Fatalf("Decode(% x) = %d", rx, code)
			}
			other := [3]byte{^rx[0], rx[1] ^ 0xF8, rx[2]}
			if c2, err := mcp3008.Decode(other); c2 != code || err != nil {
				t.Fatalf("Decode depends on the bits before the null bit: % x gives %d, % x gives %d, %v", rx, code, other, c2, err)
			}
		}

		// Read decodes the reply it receives.
		port := &spitest.Playback{Playback: conntest.Playback{DontPanic: true, Ops: []conntest.IO{{W: []byte{1, 0x80, 0}, R: rx[:]}}}}
		d, derr := mcp3008.New(port, &mcp3008.Opts{VRef: vref, Inputs: []mcp3008.Input{{Name: "a0", Single: true}}})
		if derr != nil {
			t.Fatal(derr)
		}
		rs, rerr := d.Read(context.Background())
		if err != nil {
			if rerr == nil || !strings.Contains(rerr.Error(), "null bit high") || rs != nil {
				t.Fatalf("reply % x: Read = %v, %v; want null bit high", rx, rs, rerr)
			}
		} else if rerr != nil || len(rs) != 1 || rs[0].Value != float64(code)*vref/1024 || rs[0].Value < 0 || rs[0].Value >= vref {
			t.Fatalf("reply % x: Read = %v, %v; want %v V", rx, rs, rerr, float64(code)*vref/1024)
		}

		// Round trip through the emulator: ch carries volts, its
		// differential partner ch^1 0 V and every other input vref.
		if math.IsNaN(volts) || math.IsInf(volts, 0) {
			volts = 0
		}
		n := int(ch % 8)
		chip := chips.NewMCP3008(vref)
		for i := range 8 {
			chip.SetInput(i, vref)
		}
		chip.SetInput(n, volts)
		chip.SetInput(n^1, 0)
		c, err := chips.NewPort("sim:spi0.0", nil, chip).Connect(1350000, 0, 8)
		must.NoError(t, err)
		w := mcp3008.Frame(single, n)
		var r [3]byte
		must.NoError(t, c.Tx(w[:], r[:]))
		got, err := mcp3008.Decode(r)
		if err != nil {
			t.Fatalf("emulator reply % x: %v", r, err)
		}
		v, lsb := float64(got)*vref/1024, vref/1024
		switch {
		case volts <= 0:
			if got != 0 {
				t.Fatalf("%v V on %d (single %v) reads code %d, want 0", volts, n, single, got)
			}
		case volts >= vref:
			if got != 1023 {
				t.Fatalf("%v V on %d (single %v) reads code %d, want 1023", volts, n, single, got)
			}
		case math.Abs(v-volts) > lsb:
			t.Fatalf("%v V on %d (single %v) encodes to % x, which reads %v V", volts, n, single, r, v)
		}
	})
}
