// Package sps30 drives a Sensirion SPS30 optical particulate-matter sensor on
// I²C address 0x69 (interface-select pin 4 tied to GND; bus ≤ 100 kHz), in
// measurement mode with IEEE-754 float output.
//
// Datasheet: https://sensirion.com/media/documents/8600FF88/64A3B8D6/Sensirion_PM_Sensors_Datasheet_SPS30.pdf
// (I²C commands section 6.3, CRC section 6.2). periph.io/x/devices/v3 has no
// SPS30 driver.
//
// Lifecycle: on the first Read (and after the chip was lost) the driver
// resets the device (0xD304, 100 ms), starts measurement in float format
// (0x0010 0x0300) and waits 20 ms. Readings during the warm-up period after
// that (default 30 s: the datasheet quotes about 8 s and longer at low
// concentrations) are flagged warming-up. Read polls read_data_ready_flag
// (bounded by ReadyTimeout and the context) and then reads the 60-byte
// float frame, checking each word's CRC-8: a mismatch fails that Read and
// keeps measuring; a NACK or bus error fails it and makes the next Read
// re-initialise the chip. Halt stops measurement (the fan and laser stop).
//
// Quirks: new values come every second; the fan auto-cleaning interval
// read back stays stale until the next reset (a firmware bug Sensirion
// documents), so this driver leaves it at its default (one week).
//
// Options (config `options:`):
//
//	bus: /dev/i2c-1     # required (or sim:i2c-1)
//	addr: 0x69          # the SPS30 has only this address
//	warmup: 30s         # readings flagged warming-up after (re)start
//	stuck_after: 0      # identical polls before "stuck" (0 = off)
package sps30
