// Package bme280 drives a Bosch BME280 temperature, humidity and pressure
// sensor on I²C (address 0x76 with SDO to GND, 0x77 with SDO to VDDIO) or
// SPI (mode 0 or 3, up to 10 MHz), in forced mode: one measurement per Read.
//
// Datasheet: https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bme280-ds002.pdf
// (register map section 5, compensation formulas section 4.2.3 and 8.2,
// measurement time section 9.1).
//
// Why not periph.io/x/devices/v3/bmxx80: that driver is correct (the tests
// check this package's compensation against it on the datasheet vector), but
// it lacks what a pole-mounted gateway needs: its Sense polls the status
// register without a bound (on SPI an unplugged chip reads 0xFF, whose
// "measuring" bit never clears, so Sense never returns), it sleeps with
// time.Sleep and takes no context (no injected clock, no cancellation), it
// wraps errors with %v (errors.Is cannot see a NACK) and NewSPI calls
// Port.Connect, which Linux spidev allows once, so it cannot re-initialise a
// replugged chip. This package reimplements the Bosch integer compensation
// (Calibration.Compensate) and keeps those parts in our control.
//
// Quirks: ctrl_hum (0xF2) only takes effect after a write to ctrl_meas
// (0xF4), so every forced measurement rewrites both; the H4/H5 calibration
// values are sign-extended as in Bosch's API (periph treats the high byte as
// unsigned; the results differ only when that byte is ≥ 0x80). A BMP280
// (chip id 0x58) is refused: it has no humidity.
//
// Options (config `options:`):
//
//	bus: /dev/i2c-1       # required; a name containing "spi" (/dev/spidev0.0, sim:spi0.1) selects SPI
//	addr: 0x76            # I²C only: 0x76 or 0x77
//	oversampling: 1       # 1, 2, 4, 8 or 16 for T, p and RH
//	stuck_after: 0        # identical polls before "stuck" (0 = off)
//	warmup: 0s            # readings flagged warming-up after (re)init
package bme280
