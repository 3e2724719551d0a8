// Package chips emulates air-quality chips at register or command level so
// that edgegw's real drivers run unchanged without hardware: a Bosch BME280
// (I²C and SPI), a Sensirion SCD41 and SPS30, a TI ADS1115 (I²C), a
// Microchip MCP3008 (SPI) and a Plantower PMS5003 (UART, served on the
// master end of a pseudo-terminal pair).
//
// The emulators implement periph.io's i2c.Bus and spi.Port, follow each
// chip's command set (see the datasheet links in the driver packages),
// take their timing (conversion and data-ready delays, sampling periods)
// from an injected clock, protect Sensirion words with CRC-8 and accept
// faults: Unplug/Replug (the chip NACKs every transfer, then comes back
// powered-on reset), NACK the next n transfers, corrupt the next n CRCs
// (or checksums), and Freeze the measured values (a stuck sensor).
//
// NewI2CBus, NewSPIPort and StartPMS5003 build the default population that
// the "sim:" buses of drivers/sim expose; tests attach chips themselves.
//
// Simulated values vary slowly with the clock around plausible street-level
// values (21 °C, 55 %RH, 1013 hPa, 520 ppm CO2, 9–32 ug/m3) so that the
// gateway's stuck detection stays quiet until a test freezes a chip.
package chips
