package ads1115

import (
	"fmt"

	"periph.io/x/conn/v3/i2c"
)

// Addrs are the I²C addresses an ADS1x15 answers at (ADDR pin to GND,
// VDD, SDA, SCL).
var Addrs = []uint16{0x48, 0x49, 0x4A, 0x4B}

// regConfig is the config register; its low five bits (comparator queue
// and latch) are 0x03 after power-up.
const regConfig = 0x01

// identify names an ADS1x15 at addr by its config register.
func identify(b i2c.Bus, addr uint16) (string, bool) {
	var cfg [2]byte
	if b.Tx(addr, []byte{regConfig}, cfg[:]) != nil || cfg[1]&0x1F != 0x03 {
		return "", false
	}
	return fmt.Sprintf("ADS1x15 ADC (config 0x%02x%02x)", cfg[0], cfg[1]), true
}
