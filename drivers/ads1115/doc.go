// Package ads1115 drives a TI ADS1115 16-bit ADC on I²C (0x48 ADDR→GND,
// 0x49 VDD, 0x4A SDA, 0x4B SCL) in single-shot mode, one conversion per
// configured input per Read, with an optional two-point linear calibration
// from volts to a gas concentration in ppb (electrochemical NO2, O3, CO,
// SO2 sensors behind an ISB/transimpedance board).
//
// Datasheet: https://www.ti.com/lit/ds/symlink/ads1115.pdf (config register
// table 8-3, conversion time section 9.3.6).
//
// Why not periph.io/x/devices/v3/ads1x15: it sleeps exactly 1/DR with
// time.Sleep and then reads without checking the OS (conversion done) bit,
// takes no context and cannot recover a replugged chip; this driver polls
// OS with a bound and an injected clock.
//
// Calibration: ppb = (V − zero) · span_ppb / (span − zero), where zero is
// the output (V) in zero air and span the output (V) in span gas of
// concentration span_ppb; both come from the sensor's calibration sheet or
// a field calibration.
//
// Quirks: inputs must stay within GND − 0.3 V … VDD + 0.3 V whatever the
// full-scale range; a reading at ±full scale is saturated and flagged
// out-of-range by the declared channel range.
//
// Options (config `options:`):
//
//	bus: /dev/i2c-1       # required (or sim:i2c-1)
//	addr: 0x48            # 0x48–0x4B
//	rate: 128             # samples per second: 8, 16, 32, 64, 128, 250, 475, 860
//	warmup: 0s            # readings flagged warming-up after (re)start
//	stuck_after: 0        # identical polls before "stuck" (0 = off)
//	channels:             # default: a0…a3 single-ended, ±4.096 V
//	  - name: no2         # channel name
//	    input: a0         # a0…a3, or a0-a1, a0-a3, a1-a3, a2-a3
//	    fsr: 2.048        # full-scale volts: 6.144, 4.096, 2.048, 1.024, 0.512, 0.256
//	    zero: 0.295       # V at 0 ppb  } optional calibration:
//	    span: 0.595       # V at span_ppb } readings in ppb
//	    span_ppb: 1000
//	    min: 0            # optional physical range of the channel
//	    max: 2000
package ads1115
