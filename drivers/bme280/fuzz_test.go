package bme280_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/testclock"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/bme280"
	"github.com/edgegw/edgegw/drivers/internal/drivertest"
	"github.com/edgegw/edgegw/drivers/sim/chips"
)

// pad copies b into n bytes, zero-padded or truncated, so that every fuzz
// input is a block of the length the driver reads.
func pad(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out, b)
	return out
}

// patch returns a copy of b with v written at offset at.
func patch(b []byte, at int, v ...byte) []byte {
	out := append([]byte(nil), b...)
	copy(out[at:], v)
	return out
}

// encodeCalibration lays c out as the chip's NVM holds it (0x88–0xA1 with
// 0xA0 zero, and 0xE1–0xE7), after the register map of
// shared/reference/sensors.md.
func encodeCalibration(c bme280.Calibration) (tp [26]byte, h [7]byte) {
	le := binary.LittleEndian
	for i, v := range []uint16{c.T1, uint16(c.T2), uint16(c.T3), c.P1, uint16(c.P2), uint16(c.P3), uint16(c.P4),
		uint16(c.P5), uint16(c.P6), uint16(c.P7), uint16(c.P8), uint16(c.P9)} {
		le.PutUint16(tp[2*i:], v)
	}
	tp[25] = c.H1
	le.PutUint16(h[0:], uint16(c.H2))
	h[2] = c.H3
	h[3] = byte(c.H4 >> 4)
	h[4] = byte(c.H5&0x0F)<<4 | byte(c.H4&0x0F)
	h[5] = byte(c.H5 >> 4)
	h[6] = byte(c.H6)
	return tp, h
}

// FuzzParseCalibration checks the calibration parsing on its own and in
// the driver's initialisation. H4 and H5 stay 12-bit signed; re-encoding
// the parsed calibration gives back both blocks (except the unused 0xA0);
// the driver refuses a blank calibration (T1 or P1 zero) and otherwise
// reads the datasheet measurement with RH within 0…100 % and finite values.
func FuzzParseCalibration(f *testing.F) {
	f.Add(cal88, calE1)
	f.Add(make([]byte, 26), make([]byte, 7))
	f.Add(bytes.Repeat([]byte{0xFF}, 26), bytes.Repeat([]byte{0xFF}, 7)) // floating SPI bus
	f.Add(cal88, patch(calE1, 3, 0x80, 0xFF, 0x80))                      // E4/E6 ≥ 0x80: sign-extended
	f.Add(cal88, patch(calE1, 3, 0x7F, 0xFF, 0x7F))                      // H4, H5 at their maximum
	f.Add(patch(cal88, 0, 0, 0), calE1)                                  // T1 = 0: blank
	f.Add(patch(cal88, 6, 0, 0), calE1)                                  // P1 = 0: blank
	f.Add(cal88[:10], calE1[:3])                                         // short: zero-padded
	f.Fuzz(func(t *testing.T, tp, h []byte) {
		tp, h = pad(tp, 26), pad(h, 7)
		c := bme280.ParseCalibration([26]byte(tp), [7]byte(h))
		if c.H4 < -2048 || c.H4 > 2047 || c.H5 < -2048 || c.H5 > 2047 {
			t.Fatalf("calibration % x / % x: H4 %d, H5 %d outside 12 bits", tp, h, c.H4, c.H5)
		}
		etp, eh := encodeCalibration(c)
		etp[24] = tp[24] // 0xA0 is unused
		if !bytes.Equal(etp[:], tp) || !bytes.Equal(eh[:], h) {
			t.Fatalf("calibration % x / % x parses to %+v, which encodes to % x / % x", tp, h, c, etp, eh)
		}

		ops := append(script(tp, h, 0x00), i2ctest.IO{Addr: 0x76, W: []byte{0xF7}, R: dataF7})
		rs, err := drivertest.Replay(t, ops, func(bus i2c.Bus, clk *testclock.Clock) (*bme280.Dev, error) {
			return bme280.New(bus, &bme280.Opts{Common: drivers.Common{Now: clk.Now}, Sleep: clk.Sleep})
		})
		if c.T1 == 0 || c.P1 == 0 {
			if err == nil || !strings.Contains(err.Error(), "calibration is blank") || rs != nil {
				t.Fatalf("blank calibration %+v: Read = %v, %v", c, rs, err)
			}
			return
		}
		if err != nil || len(rs) != 3 {
			t.Fatalf("calibration %+v: Read = %v, %v", c, rs, err)
		}
		for _, r := range rs {
			if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) || r.Channel == "rh" && (r.Value < 0 || r.Value > 100) || r.Channel == "p" && r.Value < 0 {
				t.Fatalf("calibration %+v: %s = %v", c, r.Channel, r.Value)
			}
		}
	})
}

// FuzzDecodeRaw checks the decoding of the burst read 0xF7–0xFE. An accepted
// block gives adc_T and adc_P within 20 bits and adc_H within 16 bits,
// ignores the low nibbles of the xlsb bytes and re-encodes to itself; a
// block holding a reset value (0x80000, 0x8000) is refused. Raw values the
// emulator encodes into its data registers decode back to themselves.
func FuzzDecodeRaw(f *testing.F) {
	f.Add(dataF7, int32(519888), int32(415148), int32(30000))
	f.Add([]byte{0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00}, int32(0x80000), int32(0x80000), int32(0x8000)) // after reset
	f.Add([]byte{0x65, 0x5A, 0xC0, 0x80, 0x00, 0x0F, 0x75, 0x30}, int32(0x80000), int32(0), int32(0))            // T skipped, low nibble set
	f.Add([]byte{0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x80, 0x00}, int32(0), int32(0), int32(0x8000))             // H skipped
	f.Add(bytes.Repeat([]byte{0xFF}, 8), int32(0xFFFFF), int32(0xFFFFF), int32(0xFFFF))
	f.Add(make([]byte, 8), int32(0), int32(0), int32(0))
	f.Add(dataF7[:5], int32(-1), int32(1000000), int32(-30000)) // short: zero-padded
	f.Fuzz(func(t *testing.T, b []byte, rawT, rawP, rawH int32) {
		raw := [8]byte(pad(b, 8))
		adcT, adcP, adcH, err := bme280.DecodeRaw(raw)
		skipped := raw[0] == 0x80 && raw[1] == 0 && raw[2]>>4 == 0 ||
			raw[3] == 0x80 && raw[4] == 0 && raw[5]>>4 == 0 ||
			raw[6] == 0x80 && raw[7] == 0
		if skipped != (err != nil) {
			t.Fatalf("DecodeRaw(% x) = %d, %d, %d, %v; reset value present: %v", raw, adcT, adcP, adcH, err, skipped)
		}
		if err == nil {
			if adcT < 0 || adcT > 0xFFFFF || adcP < 0 || adcP > 0xFFFFF || adcH < 0 || adcH > 0xFFFF {
				t.Fatalf("DecodeRaw(% x) = %d, %d, %d: outside 20/20/16 bits", raw, adcT, adcP, adcH)
			}
			other := raw
			other[2] ^= 0x0F
			other[5] ^= 0x0F
			if t2, p2, h2, err := bme280.DecodeRaw(other); t2 != adcT || p2 != adcP || h2 != adcH || err != nil {
				t.Fatalf("DecodeRaw depends on the xlsb low nibbles: % x and % x", raw, other)
			}
			enc := [8]byte{byte(adcP >> 12), byte(adcP >> 4), byte(adcP<<4) | raw[2]&0x0F,
				byte(adcT >> 12), byte(adcT >> 4), byte(adcT<<4) | raw[5]&0x0F, byte(adcH >> 8), byte(adcH)}
			if enc != raw {
				t.Fatalf("DecodeRaw(% x) = %d, %d, %d, which encodes to % x", raw, adcT, adcP, adcH, enc)
			}
		}

		// Round trip through the emulator's data registers.
		rawT, rawP, rawH = rawT&0xFFFFF, rawP&0xFFFFF, rawH&0xFFFF
		chip := chips.NewBME280()
		chip.SetRaw(rawT, rawP, rawH)
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var data [8]byte
		must.NoError(t, chip.Tx(now, []byte{0xF2, 0x01, 0xF4, 0x25}, nil))
		must.NoError(t, chip.Tx(now.Add(time.Second), []byte{0xF7}, data[:]))
		gotT, gotP, gotH, err := bme280.DecodeRaw(data)
		if rawT == 0x80000 || rawP == 0x80000 || rawH == 0x8000 {
			if err == nil {
				t.Fatalf("emulator block % x with a reset value accepted", data)
			}
			return
		}
		if err != nil || gotT != rawT || gotP != rawP || gotH != rawH {
			t.Fatalf("raw %d, %d, %d encode to % x, which decodes to %d, %d, %d, %v", rawT, rawP, rawH, data, gotT, gotP, gotH, err)
		}
	})
}
