package sim

import (
	"fmt"
	"io"
	"strings"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/spi"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/sim/chips"
	"github.com/edgegw/edgegw/drivers/sim/meteremu"
)

// The emulated buses, by name, for configurations and technician commands
// (--sim):
//
//	sim:i2c-N     an I²C bus with a BME280 at 0x76, an SCD41 at 0x62, an
//	              SPS30 at 0x69 and an ADS1115 at 0x48
//	sim:spiB.C    an SPI port with an MCP3008
//	sim:uart-N    a serial port (a pseudo-terminal) with a PMS5003
//	sim:rs485-N   an RS-485 line (a pseudo-terminal) with Modbus meters: an
//	              SDM630 at unit 1, an SDM120 at unit 2, an MFM383A at unit 3
//
// The real drivers talk to them unchanged: the demo and the tests exercise
// the code that runs on a junction box.
func init() { drivers.RegisterBusProvider("sim", emulated{}) }

// emulated opens the emulated buses.
type emulated struct{}

func (emulated) OpenI2C(name string) (i2c.BusCloser, error) {
	if !strings.HasPrefix(name, "sim:i2c") {
		return nil, fmt.Errorf("no emulated i2c bus %q (want sim:i2c-N)", name)
	}
	return chips.NewI2CBus(name, time.Now), nil
}

func (emulated) OpenSPI(name string) (spi.PortCloser, error) {
	if !strings.HasPrefix(name, "sim:spi") {
		return nil, fmt.Errorf("no emulated spi port %q (want sim:spiB.C)", name)
	}
	return chips.NewSPIPort(name, time.Now), nil
}

func (emulated) OpenSerial(name string) (string, io.Closer, error) {
	switch {
	case strings.HasPrefix(name, "sim:rs485"):
		b, err := meteremu.Start(meteremu.DefaultConfig())
		if err != nil {
			return "", nil, err
		}
		return b.Path(), b, nil
	case strings.HasPrefix(name, "sim:uart"):
		path, _, c, err := chips.StartPMS5003(time.Now)
		return path, c, err
	}
	return "", nil, fmt.Errorf("no emulated serial port %q (want sim:rs485-N or sim:uart-N)", name)
}
