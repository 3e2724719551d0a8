package scd4x_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/testclock"

	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/scd4x"
	"github.com/edgegw/edgegw/drivers/sensirion"
)

// Replies of the datasheet and of the emulator (shared/reference/sensors.md).
var (
	serialReply = []byte{0xBE, 0xEF, 0x92, 0x00, 0x00, 0x81, 0x00, 0x01, 0xB0}
	readyReply  = []byte{0x80, 0x06, sensirion.CRC8([]byte{0x80, 0x06})}
	measReply   = []byte{0x01, 0xF4, 0x33, 0x66, 0x67, 0xA2, 0x5E, 0xB9, 0x3C}
)

// frame copies b into a reply of n bytes, zero-padded or truncated, so that
// every fuzz input is a reply of the length the driver reads.
func frame(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out, b)
	return out
}

// crcOK reports whether every 3-byte group of b carries the CRC of its word,
// computed independently of the decoder.
func crcOK(b []byte) bool {
	for i := 0; i+3 <= len(b); i += 3 {
		if sensirion.CRC8(b[i:i+2]) != b[i+2] {
			return false
		}
	}
	return true
}

// read runs one first Read of a driver whose chip answers get_serial_number,
// get_data_ready_status and read_measurement with the given replies; the
// script stops after the data-ready reply when the sample is not ready.
func read(t *testing.T, serial, ready, meas []byte) ([]reading.Reading, *i2ctest.Playback, error) {
	t.Helper()
	ops := []i2ctest.IO{
		{Addr: 0x62, W: []byte{0x3F, 0x86}},
		{Addr: 0x62, W: []byte{0x36, 0x82}},
		{Addr: 0x62, R: serial},
		{Addr: 0x62, W: []byte{0x21, 0xB1}},
		{Addr: 0x62, W: []byte{0xE4, 0xB8}},
		{Addr: 0x62, R: ready},
	}
	if meas != nil {
		ops = append(ops, i2ctest.IO{Addr: 0x62, W: []byte{0xEC, 0x05}}, i2ctest.IO{Addr: 0x62, R: meas})
	}
	var clk testclock.Clock
	bus := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := scd4x.New(bus, &scd4x.Opts{Common: drivers.Common{Now: clk.Now}, Sleep: clk.Sleep})
	must.NoError(t, err)
	rs, err := d.Read(context.Background())
	return rs, bus, err
}

// FuzzMeasurement feeds arbitrary 9-byte read_measurement replies through
// Read. A reply with any wrong CRC is refused with ErrCRC and no readings;
// an accepted one gives CO₂ equal to its word, T within −45…130 °C and RH
// within 0…100 %, re-encoding the values gives back the reply's words, and
// flipping any one bit of it (bit flip%72) makes it refused.
func FuzzMeasurement(f *testing.F) {
	f.Add(measReply, uint8(0))
	f.Add(sensirion.AppendWords(nil, 0, 0, 0), uint8(71))
	f.Add(sensirion.AppendWords(nil, 0xFFFF, 0xFFFF, 0xFFFF), uint8(17))
	f.Add(sensirion.AppendWords(nil, 40000, 0x8000, 0x8000), uint8(40))
	f.Add([]byte{0x01, 0xF4, 0x33, 0x66, 0x67, 0xA2, 0x5E, 0xB9, 0x3D}, uint8(0)) // last CRC wrong
	f.Add([]byte{0x01, 0xF5, 0x33, 0x66, 0x67, 0xA2, 0x5E, 0xB9, 0x3C}, uint8(0)) // data bit flipped
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, uint8(0)) // floating bus
	f.Add([]byte{0x01, 0xF4}, uint8(0))                                           // short: zero-padded
	f.Fuzz(func(t *testing.T, b []byte, flip uint8) {
		b = frame(b, 9)
		rs, bus, err := read(t, serialReply, readyReply, b)
		if !crcOK(b) {
			if !errors.Is(err, sensirion.ErrCRC) || rs != nil {
				t.Fatalf("reply % x with a wrong CRC: Read = %v, %v; want ErrCRC and no readings", b, rs, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("reply % x: %v", b, err)
		}
		must.NoError(t, bus.Close())
		if len(rs) != 3 || rs[0].Channel != "co2" || rs[1].Channel != "t" || rs[2].Channel != "rh" {
			t.Fatalf("reply % x: readings %+v", b, rs)
		}
		co2, c, rh := rs[0].Value, rs[1].Value, rs[2].Value
		if co2 != float64(uint16(b[0])<<8|uint16(b[1])) || c < -45 || c > 130 || rh < 0 || rh > 100 {
			t.Fatalf("reply % x: co2 %v, t %v, rh %v outside the encodable range", b, co2, c, rh)
		}
		// Encode as the chip does (datasheet formulas inverted).
		words := []uint16{uint16(co2), uint16(math.Round((c + 45) * 65535 / 175)), uint16(math.Round(rh * 65535 / 100))}
		for i, w := range words {
			if want := uint16(b[3*i])<<8 | uint16(b[3*i+1]); w != want {
				t.Fatalf("reply % x: word %d decodes and re-encodes to %#04x", b, i, w)
			}
		}
		// Any single-bit error in an accepted reply is caught by its CRC.
		bit := int(flip) % 72
		bad := append([]byte(nil), b...)
		bad[bit/8] ^= 1 << (bit % 8)
		if rs, _, err := read(t, serialReply, readyReply, bad); !errors.Is(err, sensirion.ErrCRC) || rs != nil {
			t.Fatalf("reply % x with bit %d flipped: Read = %v, %v; want ErrCRC", bad, bit, rs, err)
		}
	})
}

// FuzzDataReady feeds arbitrary get_data_ready_status replies through
// Read, and their word through DataReady. A wrong CRC is refused with
// ErrCRC; a word whose low 11 bits are zero gives ErrNoData without
// read_measurement; any other word reads the sample. The upper 5 bits never
// matter.
func FuzzDataReady(f *testing.F) {
	f.Add(readyReply)
	f.Add(sensirion.AppendWords(nil, 0x8000)) // emulator: not ready
	f.Add(sensirion.AppendWords(nil, 0x0000))
	f.Add(sensirion.AppendWords(nil, 0x0001))
	f.Add(sensirion.AppendWords(nil, 0xF800))
	f.Add([]byte{0x80, 0x06, 0x00})
	f.Add([]byte{0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		b = frame(b, 3)
		w := uint16(b[0])<<8 | uint16(b[1])
		ready := scd4x.DataReady(w)
		if ready != scd4x.DataReady(w&0x07FF) || ready != scd4x.DataReady(w|0xF800) {
			t.Fatalf("DataReady(%#04x) depends on the undefined upper bits", w)
		}
		var meas []byte
		if ready && crcOK(b) {
			meas = measReply
		}
		rs, bus, err := read(t, serialReply, b, meas)
		switch {
		case !crcOK(b):
			if !errors.Is(err, sensirion.ErrCRC) || rs != nil {
				t.Fatalf("reply % x with a wrong CRC: Read = %v, %v; want ErrCRC", b, rs, err)
			}
			return
		case !ready:
			if !errors.Is(err, drivers.ErrNoData) || rs != nil {
				t.Fatalf("not-ready reply % x: Read = %v, %v; want ErrNoData", b, rs, err)
			}
		case err != nil || len(rs) != 3 || rs[0].Value != 500:
			t.Fatalf("ready reply % x: Read = %v, %v; want the sample", b, rs, err)
		}
		if err := bus.Close(); err != nil {
			t.Fatalf("reply % x: %v", b, err)
		}
	})
}

// FuzzSerialNumber feeds arbitrary get_serial_number replies to the
// initialisation: a wrong CRC fails it with ErrCRC before measurement
// starts; any reply with valid CRCs lets it start.
func FuzzSerialNumber(f *testing.F) {
	f.Add(serialReply)
	f.Add(sensirion.AppendWords(nil, 0, 0, 0))
	f.Add([]byte{0xBE, 0xEF, 0x93, 0x00, 0x00, 0x81, 0x00, 0x01, 0xB0})
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		b = frame(b, 9)
		rs, bus, err := read(t, b, readyReply, measReply)
		if !crcOK(b) {
			if !errors.Is(err, sensirion.ErrCRC) || rs != nil || bus.Count != 3 {
				t.Fatalf("reply % x with a wrong CRC: Read = %v, %v after %d transactions; want ErrCRC before start", b, rs, err, bus.Count)
			}
			return
		}
		if err != nil || len(rs) != 3 {
			t.Fatalf("reply % x: Read = %v, %v", b, rs, err)
		}
		must.NoError(t, bus.Close())
	})
}
