// Package pms5003 drives a Plantower PMS5003 laser particulate sensor on a
// UART (9600 baud 8N1, 3.3 V logic, 5 V supply) in passive mode: the driver
// asks for each frame, so readings are as fresh as the poll.
//
// Datasheet: Plantower PMS5003 series data manual (V2.3), e.g.
// https://www.aqmd.gov/docs/default-source/aq-spec/resources-page/plantower-pms5003-manual_v2-3.pdf
// (frame layout appendix I, commands appendix II). periph.io/x/devices/v3
// has no PMS5003 driver.
//
// Frame: 42 4D, length 28 (u16 BE), 13 u16 BE values (PM1.0/2.5/10 at
// CF=1, PM1.0/2.5/10 atmospheric, six particle counts per 0.1 L, reserved),
// checksum u16 BE = sum of bytes 0..29. The driver reports the atmospheric
// values. A checksum mismatch (ErrChecksum) fails that Read: no value from
// a damaged frame. Command acknowledgements (42 4D 00 04 …) and noise are
// skipped by resynchronising on 42 4D.
//
// Lifecycle: on the first Read (and after the sensor went silent) the
// driver sends wake-up and passive mode; readings during the warm-up period
// after that (default 30 s, the manual's "stable data" delay) are flagged
// warming-up. Halt puts the sensor to sleep (fan off) and closes the port
// the factory opened.
//
// Options (config `options:`):
//
//	bus: /dev/ttyAMA0     # required (or sim:uart-1)
//	timeout: 2s           # bound on waiting for a frame
//	warmup: 30s           # readings flagged warming-up after (re)start
//	stuck_after: 0        # identical polls before "stuck" (0 = off)
package pms5003
