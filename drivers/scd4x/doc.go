// Package scd4x drives a Sensirion SCD40/SCD41 photoacoustic CO₂ sensor
// (with temperature and humidity) on I²C address 0x62, in periodic
// measurement mode (a sample every 5 s, or every 30 s in low-power mode).
//
// Datasheet: https://sensirion.com/media/documents/48C4B7FB/64C134E7/Sensirion_SCD4x_Datasheet.pdf
// (commands section 3.5–3.10, CRC section 3.11).
//
// Why not periph.io/x/devices/v3/scd4x: it sleeps with time.Sleep (1 s steps
// for up to ~6 s, no context, no injected clock), writes a command and reads
// its reply in one transaction where Sensirion specifies write, wait the
// execution time, then read, and it initialises the chip in its constructor,
// so a chip that is absent at start or replugged later is not recovered.
//
// Lifecycle: on the first Read (and after the chip was lost) the driver stops
// any running measurement (the chip refuses most commands while measuring),
// reads the serial number (proving the chip answers with valid CRCs) and
// starts periodic measurement. Readings within the warm-up period after that
// are flagged warming-up. Read polls get_data_ready_status (bounded by
// ReadyTimeout and the context); read_measurement then returns CO₂, T and
// RH, each word checked by CRC-8. A CRC mismatch fails that Read and keeps
// the chip running; a NACK or bus error fails it and makes the next Read
// re-initialise the chip. Halt stops periodic measurement.
//
// Options (config `options:`):
//
//	bus: /dev/i2c-1     # required (or sim:i2c-1)
//	addr: 0x62          # the SCD4x has only this address
//	low_power: false    # 30 s instead of 5 s sampling
//	warmup: 60s         # readings flagged warming-up after (re)start
//	stuck_after: 0      # identical polls before "stuck" (0 = off)
package scd4x
