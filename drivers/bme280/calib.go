package bme280

import "encoding/binary"

// Calibration holds the chip's factory trimming parameters (NVM 0x88–0xA1
// and 0xE1–0xE7).
type Calibration struct {
	T1             uint16
	T2, T3         int16
	P1             uint16
	P2, P3, P4, P5 int16
	P6, P7, P8, P9 int16
	H1             uint8
	H2             int16
	H3             uint8
	H4, H5         int16
	H6             int8
}

// ParseCalibration decodes the 26 bytes read from 0x88 and the 7 bytes read
// from 0xE1.
func ParseCalibration(tp [26]byte, h [7]byte) Calibration {
	u := func(i int) uint16 { return binary.LittleEndian.Uint16(tp[i:]) }
	s := func(i int) int16 { return int16(u(i)) }
	return Calibration{
		T1: u(0), T2: s(2), T3: s(4),
		P1: u(6), P2: s(8), P3: s(10), P4: s(12), P5: s(14), P6: s(16), P7: s(18), P8: s(20), P9: s(22),
		H1: tp[25],
		H2: int16(binary.LittleEndian.Uint16(h[0:])),
		H3: h[2],
		H4: int16(int8(h[3]))<<4 | int16(h[4]&0x0F),
		H5: int16(int8(h[5]))<<4 | int16(h[4]>>4),
		H6: int8(h[6]),
	}
}

// Compensate converts raw ADC values (adc_T and adc_P 20-bit, adc_H 16-bit)
// with Bosch's integer formulas: temperature in 0.01 °C, pressure in Pa as
// Q24.8 (Pa = p/256) and humidity in %RH as Q22.10 (%RH = h/1024). A zero
// P1 (damaged calibration) gives pressure 0.
func (c *Calibration) Compensate(adcT, adcP, adcH int32) (t int32, p uint32, h uint32) {
	v1 := ((adcT>>3 - int32(c.T1)<<1) * int32(c.T2)) >> 11
	d := adcT>>4 - int32(c.T1)
	v2 := (((d * d) >> 12) * int32(c.T3)) >> 14
	tFine := v1 + v2
	t = (tFine*5 + 128) >> 8

	w1 := int64(tFine) - 128000
	w2 := w1 * w1 * int64(c.P6)
	w2 += (w1 * int64(c.P5)) << 17
	w2 += int64(c.P4) << 35
	w1 = (w1*w1*int64(c.P3))>>8 + (w1*int64(c.P2))<<12
	w1 = ((int64(1)<<47 + w1) * int64(c.P1)) >> 33
	if w1 != 0 {
		q := int64(1048576 - adcP)
		q = ((q<<31 - w2) * 3125) / w1
		w1 = (int64(c.P9) * (q >> 13) * (q >> 13)) >> 25
		w2 = (int64(c.P8) * q) >> 19
		p = uint32((q+w1+w2)>>8 + int64(c.P7)<<4)
	}

	x := tFine - 76800
	x = ((adcH<<14 - int32(c.H4)<<20 - int32(c.H5)*x + 16384) >> 15) *
		((((((x*int32(c.H6))>>10)*(((x*int32(c.H3))>>11)+32768))>>10+2097152)*int32(c.H2) + 8192) >> 14)
	x -= (((x >> 15) * (x >> 15)) >> 7) * int32(c.H1) >> 4
	x = max(0, min(x, 419430400))
	h = uint32(x >> 12)
	return t, p, h
}
