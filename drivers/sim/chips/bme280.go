package chips

import (
	"time"
)

// bme280Cal is the datasheet's calibration example (T1…P9) with the
// humidity calibration of shared/reference/sensors.md, as the chip's NVM
// holds it at 0x88–0xA1 and 0xE1–0xE7.
var bme280Cal = [...]struct {
	reg  byte
	data []byte
}{
	{0x88, []byte{0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC, 0x7D, 0x8E, 0x43, 0xD6, 0xD0, 0x0B, 0x27, 0x0B, 0x8C, 0x00, 0xF9, 0xFF, 0x8C, 0x3C, 0xF8, 0xC6, 0x70, 0x17, 0x00, 0x4B}},
	{0xE1, []byte{0x6E, 0x01, 0x00, 0x13, 0x05, 0x00, 0x1E}},
}

// BME280 emulates a Bosch BME280: chip id 0x60, soft reset (0xE0 ← 0xB6),
// ctrl_hum latched by a write to ctrl_meas, forced mode with the
// datasheet's typical measurement time (status bit 3 set meanwhile), normal
// mode, and the burst data registers 0xF7–0xFE. The same chip answers on
// I²C (address/data pairs) and SPI (bit 7 = read).
type BME280 struct {
	Faults
	regs      [256]byte
	ptr       byte
	hum       byte // ctrl_hum as written, latched into regs on a ctrl_meas write
	busyUntil time.Time
	raw       *[3]int32
}

// NewBME280 returns a BME280 in its power-on state.
func NewBME280() *BME280 {
	c := &BME280{}
	c.reset()
	return c
}

// SetRaw fixes the raw ADC values (adc_T, adc_P 20-bit, adc_H 16-bit) the
// next measurements produce; the datasheet example is 519888, 415148, 30000.
func (c *BME280) SetRaw(adcT, adcP, adcH int32) {
	c.mu.Lock()
	c.raw = &[3]int32{adcT, adcP, adcH}
	c.mu.Unlock()
}

// reset restores the power-on state.
func (c *BME280) reset() {
	c.regs = [256]byte{}
	c.regs[0xD0] = 0x60
	for _, cal := range bme280Cal {
		copy(c.regs[cal.reg:], cal.data)
	}
	copy(c.regs[0xF7:], []byte{0x80, 0, 0, 0x80, 0, 0, 0x80, 0})
	c.hum, c.ptr, c.busyUntil = 0, 0, time.Time{}
}

var oversampling = [8]float64{0, 1, 2, 4, 8, 16, 16, 16}

// measTime is the datasheet's typical measurement time.
func (c *BME280) measTime() time.Duration {
	nt, np, nh := oversampling[c.regs[0xF4]>>5], oversampling[c.regs[0xF4]>>2&7], oversampling[c.regs[0xF2]&7]
	ms := 1 + 2*nt
	if np > 0 {
		ms += 2*np + 0.5
	}
	if nh > 0 {
		ms += 2*nh + 0.5
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// sample writes a measurement into the data registers.
func (c *BME280) sample(now time.Time) {
	t := c.valueTime(now)
	c.mu.Lock()
	raw := c.raw
	c.mu.Unlock()
	var adcT, adcP, adcH int32
	if raw != nil {
		adcT, adcP, adcH = raw[0], raw[1], raw[2]
	} else {
		adcT = int32(wave(t, 519888, 4000, time.Hour, 0))
		adcP = int32(wave(t, 415148, 2000, 3*time.Hour, 1))
		adcH = int32(wave(t, 30000, 1500, 2*time.Hour, 2))
	}
	if c.regs[0xF4]>>5 == 0 {
		adcT = 0x80000
	}
	if c.regs[0xF4]>>2&7 == 0 {
		adcP = 0x80000
	}
	if c.regs[0xF2]&7 == 0 {
		adcH = 0x8000
	}
	d := c.regs[0xF7:]
	d[0], d[1], d[2] = byte(adcP>>12), byte(adcP>>4), byte(adcP<<4)
	d[3], d[4], d[5] = byte(adcT>>12), byte(adcT>>4), byte(adcT<<4)
	d[6], d[7] = byte(adcH>>8), byte(adcH)
}

// update completes a forced measurement whose time has come, and samples
// continuously in normal mode.
func (c *BME280) update(now time.Time) {
	switch mode := c.regs[0xF4] & 3; {
	case mode == 3:
		c.sample(now)
		c.regs[0xF3] = 0
	case !c.busyUntil.IsZero() && !now.Before(c.busyUntil):
		c.sample(now)
		c.busyUntil = time.Time{}
		c.regs[0xF3] = 0
		c.regs[0xF4] &^= 3 // back to sleep
	}
}

// write stores one register.
func (c *BME280) write(now time.Time, reg, v byte) {
	switch reg {
	case 0xE0:
		if v == 0xB6 {
			c.reset()
		}
	case 0xF2:
		c.hum = v & 7
	case 0xF4:
		c.regs[0xF2] = c.hum
		c.regs[0xF4] = v
		if m := v & 3; m == 1 || m == 2 {
			c.busyUntil = now.Add(c.measTime())
			c.regs[0xF3] = 0x08
		}
	case 0xF5:
		c.regs[0xF5] = v
	}
}

// read fills r from consecutive registers starting at reg.
func (c *BME280) read(reg byte, r []byte) {
	for i := range r {
		r[i] = c.regs[reg]
		reg++
	}
}

// Tx implements Chip for I²C: w = register pointer then address/data pairs.
func (c *BME280) Tx(now time.Time, w, r []byte) error {
	c.update(now)
	if len(w) > 0 {
		c.ptr = w[0]
		for i := 0; i+1 < len(w); i += 2 {
			c.write(now, w[i], w[i+1])
		}
	}
	if len(r) > 0 {
		c.read(c.ptr, r)
	}
	return nil
}

// spiTx handles one SPI transfer: a control byte (bit 7 = read) then data.
func (c *BME280) spiTx(now time.Time, w, r []byte) {
	c.update(now)
	if len(w) == 0 {
		return
	}
	if w[0]&0x80 != 0 {
		c.read(w[0], r[1:])
		r[0] = 0xFF
		return
	}
	for i := 0; i+1 < len(w); i += 2 {
		c.write(now, w[i]|0x80, w[i+1])
	}
}
