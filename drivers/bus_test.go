package drivers_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/internal/must"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/edgegw/edgegw/drivers"
)

// TestMissingHostBus: a host I²C bus whose node does not exist cannot be
// opened, with an error that says how to enable it; through Deferred the
// bus is returned anyway and each transfer fails with that error.
func TestMissingHostBus(t *testing.T) {
	const name = "/dev/i2c-97"
	set := drivers.NewBusSet()
	defer set.Close()
	_, err := set.I2C(name)
	want := "i2c bus /dev/i2c-97 does not exist: enable I2C (raspi-config"
	if !errors.Is(err, drivers.ErrBusUnavailable) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "usermod -aG i2c") {
		t.Fatalf("BusSet.I2C(%s) = %v, want %q", name, err, want)
	}
	b, err := drivers.Deferred(set).I2C(name)
	if err != nil {
		t.Fatalf("Deferred I2C: %v", err)
	}
	for range 2 {
		if err := b.Tx(0x62, []byte{0x3f, 0x86}, nil); !errors.Is(err, drivers.ErrBusUnavailable) || !strings.Contains(err.Error(), want) {
			t.Errorf("Tx on the missing bus: %v", err)
		}
	}
	if _, err := drivers.Deferred(set).I2C("nosuch:bus"); err == nil || errors.Is(err, drivers.ErrBusUnavailable) {
		t.Errorf("a bus name no provider serves is a configuration error, not a missing bus: %v", err)
	}
}

// TestMissingHostSPIPort: a host SPI port whose node does not exist cannot
// be opened, with an error that says how to enable it; through Deferred the
// port is returned anyway, a driver connects to it, and each transfer fails
// with that error.
func TestMissingHostSPIPort(t *testing.T) {
	const name = "/dev/spidev9.7"
	set := drivers.NewBusSet()
	defer set.Close()
	_, err := set.SPI(name)
	want := "spi bus /dev/spidev9.7 does not exist: enable SPI (raspi-config"
	if !errors.Is(err, drivers.ErrBusUnavailable) || !strings.Contains(err.Error(), want) {
		t.Fatalf("BusSet.SPI(%s) = %v, want %q", name, err, want)
	}
	p, err := drivers.Deferred(set).SPI(name)
	if err != nil {
		t.Fatalf("Deferred SPI: %v", err)
	}
	c, err := p.Connect(1350*physic.KiloHertz, spi.Mode0, 8)
	if err != nil {
		t.Fatalf("Connect on the missing port: %v", err)
	}
	for range 2 {
		if err := c.Tx([]byte{1, 0x80, 0}, make([]byte, 3)); !errors.Is(err, drivers.ErrBusUnavailable) || !strings.Contains(err.Error(), want) {
			t.Errorf("Tx on the missing port: %v", err)
		}
	}
	if c.String() != name || p.String() != name {
		t.Errorf("names %q, %q, want %q", p.String(), c.String(), name)
	}
}

// appearing is a bus set whose I²C bus can be opened from the nth try on.
type appearing struct {
	tries, n int
	bus      i2c.Bus
}

func (a *appearing) I2C(name string) (i2c.Bus, error) {
	if a.tries++; a.tries < a.n {
		return nil, drivers.BusError(drivers.I2CBus, name, fmt.Errorf("try %d", a.tries))
	}
	return a.bus, nil
}
func (a *appearing) SPI(string) (spi.Port, error)  { return nil, errors.New("no spi") }
func (a *appearing) Serial(string) (string, error) { return "", errors.New("no serial") }

// TestDeferredBusComes: a deferred bus is opened at the first transfer
// after it can be, and used from then on.
func TestDeferredBusComes(t *testing.T) {
	play := &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: 0x62, W: []byte{1}}, {Addr: 0x62, W: []byte{2}}}}
	a := &appearing{n: 4, bus: play} // missing when the device is built and at its first two transfers
	b, err := drivers.Deferred(a).I2C("I2C5")
	must.NoError(t, err)
	var got []error
	for i := byte(0); i < 4; i++ {
		got = append(got, b.Tx(0x62, []byte{i - 1}, nil))
	}
	if !errors.Is(got[0], drivers.ErrBusUnavailable) || !errors.Is(got[1], drivers.ErrBusUnavailable) || got[2] != nil || got[3] != nil {
		t.Errorf("transfers: %v; want two failures, then the bus", got)
	}
	if a.tries != 4 {
		t.Errorf("tried to open the bus %d times, want 4 (none once it was open)", a.tries)
	}
	if err := play.Close(); err != nil {
		t.Error(err)
	}
}
