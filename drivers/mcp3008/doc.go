// Package mcp3008 drives a Microchip MCP3008 10-bit, 8-channel ADC on SPI
// (mode 0, 1.35 MHz: the limit at 2.7 V; 3.6 MHz at 5 V), one conversion
// per configured input per Read, with an optional two-point linear
// calibration from volts to ppb as in package ads1115.
//
// Datasheet: https://ww1.microchip.com/downloads/en/DeviceDoc/21295d.pdf
// (SPI framing figure 6-1, configuration bits table 5-2). periph.io/x/devices/v3
// has no MCP3008 driver.
//
// Framing: one 3-byte full-duplex transfer per conversion: tx 01,
// (single ? 0x80 : 0) | ch<<4, 00; the value is (rx[1]&3)<<8 | rx[2] and
// V = value·vref/1024. The chip drives a null bit (rx[1] bit 2) low before
// the data: when it reads high, MISO is floating (chip absent or unpowered)
// and the Read fails with an error naming the device.
//
// Options (config `options:`):
//
//	bus: /dev/spidev0.0   # required (or sim:spi0.0)
//	vref: 3.3             # reference voltage, volts
//	warmup: 0s            # readings flagged warming-up after (re)start
//	stuck_after: 0        # identical polls before "stuck" (0 = off)
//	channels:             # default: ch0…ch7 single-ended as a0…a7
//	  - name: o3
//	    input: 2          # 0…7, or a pair 0-1, 1-0, 2-3, 3-2, …
//	    zero: 0.40        # optional calibration (see package ads1115)
//	    span: 0.90
//	    span_ppb: 500
//	    min: 0
//	    max: 1000
package mcp3008
