package drivers

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/spi"
)

// errChecked stops a factory at its first bus request during Check: every
// option before it is valid, and nothing is opened.
var errChecked = errors.New("bus name accepted, not opened (check only)")

// Check checks a device's configuration the way the factory of its driver
// kind does when the gateway starts, without any I/O. The factory runs with
// buses that accept the names this binary can open and stop it there: a host
// name such as /dev/i2c-1 (whether it exists is for the start to find out) or
// a name with a registered provider's prefix such as sim:i2c-1 (a prefix
// without a provider in this build is an error). A factory therefore checks
// every option, model and profile before it asks for its bus. Errors are the
// factory's, naming the option at fault.
func Check(kind string, dev Device) error {
	f, err := Find(kind)
	if err != nil {
		return fmt.Errorf("driver: %w", err)
	}
	s, err := f(dev, Deps{Now: time.Now, Logger: slog.New(slog.DiscardHandler), Buses: checkBuses{}})
	switch {
	case errors.Is(err, errChecked):
		return nil
	case err != nil:
		return err
	}
	return s.Halt() // a driver without a bus (sim) was built, without I/O
}

// checkBuses are the Buses of Check: they accept a name this binary can
// open and answer errChecked, or say why the name cannot be opened.
type checkBuses struct{}

// check returns errChecked for a host bus name or one with a registered
// provider, and the provider error otherwise.
func (checkBuses) check(name string) error {
	if _, err := provider(name); err != nil {
		return err
	}
	return errChecked
}

var _ Buses = checkBuses{}

// I2C implements Buses.
func (b checkBuses) I2C(name string) (i2c.Bus, error) { return nil, b.check(name) }

// SPI implements Buses.
func (b checkBuses) SPI(name string) (spi.Port, error) { return nil, b.check(name) }

// Serial implements Buses.
func (b checkBuses) Serial(name string) (string, error) { return "", b.check(name) }
