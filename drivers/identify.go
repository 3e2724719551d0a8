package drivers

import (
	"slices"
	"strings"

	"periph.io/x/conn/v3/i2c"
)

// Identify tells whether the chip at addr on b is the driver's, by its id
// register where it has one: it returns the chip's name for a technician
// ("BME280 (chip id 0x60)"), and false when it is not the driver's chip.
type Identify func(b i2c.Bus, addr uint16) (string, bool)

// ByAddress is the Identify of a chip that is known by its address alone:
// a scan sends it no command, and says what it probably is.
func ByAddress(name string) Identify {
	return func(i2c.Bus, uint16) (string, bool) { return name + "? (by its address)", true }
}

// I2CDevice is an address that answered ScanI2C.
type I2CDevice struct {
	Addr uint16 `json:"addr"` // 7-bit address, a number (0x76 is 118)
	Chip string `json:"chip"` // what the registered drivers recognise there, or "unknown"
}

// ScanI2C reads one byte from each 7-bit address 0x08–0x77 of b, as
// i2cdetect -r does, and names the chip at each address that answers by
// asking the drivers registered for that address.
func ScanI2C(b i2c.Bus) []I2CDevice {
	out := []I2CDevice{}
	for a := uint16(0x08); a <= 0x77; a++ {
		var r [1]byte
		if err := b.Tx(a, nil, r[:]); err != nil {
			continue
		}
		d := I2CDevice{Addr: a, Chip: "unknown"}
		registry.Lock()
		ids := slices.Clone(registry.identifiers[a])
		registry.Unlock()
		var guesses []string
		for _, id := range ids {
			if name, ok := id(b, a); ok {
				guesses = append(guesses, name)
			}
		}
		if len(guesses) > 0 {
			slices.Sort(guesses)
			d.Chip = strings.Join(guesses, " or ")
		}
		out = append(out, d)
	}
	return out
}
