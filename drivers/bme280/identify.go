package bme280

import (
	"fmt"

	"periph.io/x/conn/v3/i2c"
)

// The chip id register of Bosch's environmental sensors, and the ids that
// answer at the BME280's addresses.
const (
	regChipID = 0xD0
	idBME280  = 0x60
	idBMP280  = 0x58 // no humidity
	idBMP180  = 0x55
)

// Addrs are the I²C addresses a BME280 answers at (SDO low, high).
var Addrs = []uint16{0x76, 0x77}

// identify names the Bosch sensor at addr by its chip id.
func identify(b i2c.Bus, addr uint16) (string, bool) {
	var id [1]byte
	if b.Tx(addr, []byte{regChipID}, id[:]) != nil {
		return "", false
	}
	switch id[0] {
	case idBME280:
		return fmt.Sprintf("BME280 (chip id 0x%02x)", id[0]), true
	case idBMP280:
		return fmt.Sprintf("BMP280 (chip id 0x%02x, no humidity)", id[0]), true
	case idBMP180:
		return fmt.Sprintf("BMP180 (chip id 0x%02x)", id[0]), true
	}
	return fmt.Sprintf("unknown (chip id 0x%02x at 0x%02X)", id[0], regChipID), true
}
