package chips

import (
	"math"
	"time"
)

// ADS1115 emulates a TI ADS1115: config register (reset 0x8583),
// single-shot conversions started by OS=1 and finished after 1/DR (OS reads
// 0 meanwhile), continuous mode, the eight MUX settings and the six PGA
// full-scale ranges, with saturation at ±FS.
type ADS1115 struct {
	Faults
	ptr       byte
	config    uint16
	conv      int16
	busyUntil time.Time
	inputs    [4]func(time.Time) float64
}

// NewADS1115 returns an ADS1115 whose inputs carry an Alphasense-style NO2
// sensor (working electrode ≈ 0.30 V + 0.3 mV/ppb on AIN0, auxiliary
// electrode 0.295 V on AIN1) and two slowly varying voltages on AIN2/AIN3.
func NewADS1115() *ADS1115 {
	c := &ADS1115{config: 0x8583}
	c.inputs[0] = func(t time.Time) float64 { return 0.300 + 0.0003*wave(t, 25, 12, 8*time.Hour, 0) }
	c.inputs[1] = func(time.Time) float64 { return 0.295 }
	c.inputs[2] = func(t time.Time) float64 { return wave(t, 1.2, 0.3, time.Hour, 1) }
	c.inputs[3] = func(t time.Time) float64 { return wave(t, 2.5, 0.5, 2*time.Hour, 2) }
	return c
}

// SetInput fixes the voltage on AINn (n 0–3).
func (c *ADS1115) SetInput(n int, volts float64) {
	c.inputs[n] = func(time.Time) float64 { return volts }
}

// reset restores the power-on state.
func (c *ADS1115) reset() { c.ptr, c.config, c.conv, c.busyUntil = 0, 0x8583, 0, time.Time{} }

var adsFS = [8]float64{6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256}
var adsSPS = [8]float64{8, 16, 32, 64, 128, 250, 475, 860}

// convert samples the selected input.
func (c *ADS1115) convert(now time.Time) {
	t := c.valueTime(now)
	in := func(i int) float64 { return c.inputs[i](t) }
	var v float64
	switch mux := c.config >> 12 & 7; mux {
	case 0:
		v = in(0) - in(1)
	case 1:
		v = in(0) - in(3)
	case 2:
		v = in(1) - in(3)
	case 3:
		v = in(2) - in(3)
	default:
		v = in(int(mux - 4))
	}
	fs := adsFS[c.config>>9&7]
	raw := math.Round(v / fs * 32768)
	c.conv = int16(max(-32768, min(32767, raw)))
}

// update completes a conversion whose time has come.
func (c *ADS1115) update(now time.Time) {
	if c.config&0x0100 == 0 { // continuous
		c.convert(now)
		return
	}
	if !c.busyUntil.IsZero() && !now.Before(c.busyUntil) {
		c.convert(now)
		c.busyUntil = time.Time{}
		c.config |= 0x8000
	}
}

// Tx implements Chip: write [ptr] or [ptr msb lsb]; read 2 bytes at ptr.
func (c *ADS1115) Tx(now time.Time, w, r []byte) error {
	c.update(now)
	if len(w) > 0 {
		c.ptr = w[0] & 3
		if len(w) >= 3 && c.ptr == 1 {
			v := uint16(w[1])<<8 | uint16(w[2])
			start := v&0x8000 != 0
			c.config = v &^ 0x8000
			if start || v&0x0100 == 0 {
				d := time.Duration(float64(time.Second) / adsSPS[v>>5&7])
				c.busyUntil = now.Add(d)
			} else {
				c.config |= 0x8000
			}
		}
	}
	if len(r) >= 2 {
		var v uint16
		switch c.ptr {
		case 0:
			v = uint16(c.conv)
		case 1:
			v = c.config
		case 2:
			v = 0x8000
		case 3:
			v = 0x7FFF
		}
		r[0], r[1] = byte(v>>8), byte(v)
	}
	return nil
}
