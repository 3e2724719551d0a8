package sim

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
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
// An I²C bus name may end in "?faults=RATE&seed=N": each transfer then fails
// with probability RATE (a NACK or a damaged CRC), drawn from a generator
// seeded with N, as on a long, noisy cable. The reliability suite uses it.
//
// The real drivers talk to them unchanged: the demo and the tests exercise
// the code that runs on a junction box.
func init() { drivers.RegisterBusProvider("sim", emulated{}) }

// emulated opens the emulated buses.
type emulated struct{}

func (emulated) OpenI2C(name string) (i2c.BusCloser, error) {
	base, query, _ := strings.Cut(name, "?")
	if !strings.HasPrefix(base, "sim:i2c") {
		return nil, fmt.Errorf("no emulated i2c bus %q (want sim:i2c-N)", name)
	}
	b := chips.NewI2CBus(base, time.Now)
	if query != "" {
		rate, seed, err := parseFaults(query)
		if err != nil {
			return nil, fmt.Errorf("emulated i2c bus %q: %w", name, err)
		}
		b.InjectRandomFaults(rate, seed)
	}
	return b, nil
}

// parseFaults reads "faults=RATE&seed=N".
func parseFaults(query string) (rate float64, seed uint64, err error) {
	q, err := url.ParseQuery(query)
	if err != nil {
		return 0, 0, err
	}
	for k := range q {
		if k != "faults" && k != "seed" {
			return 0, 0, fmt.Errorf("unknown parameter %q (want faults, seed)", k)
		}
	}
	if rate, err = strconv.ParseFloat(q.Get("faults"), 64); err != nil || rate < 0 || rate > 1 {
		return 0, 0, fmt.Errorf("faults=%q: want a probability from 0 to 1", q.Get("faults"))
	}
	if s := q.Get("seed"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("seed=%q: want an unsigned integer", s)
		}
	}
	return rate, seed, nil
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
