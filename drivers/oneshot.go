package drivers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/edgegw/edgegw/drivers/reading"
)

// BusKind is the kind of bus a device is attached to.
type BusKind string

// Bus kinds.
const (
	I2CBus    BusKind = "i2c"
	SPIBus    BusKind = "spi"
	SerialBus BusKind = "serial"
)

// DefaultBus is the bus of the kind that a technician command uses when it
// is given none: the host's first, or with sim the first emulated one.
func (k BusKind) DefaultBus(sim bool) string {
	switch {
	case sim && k == SPIBus:
		return "sim:spi0.0"
	case sim && k == SerialBus:
		return "sim:uart-1"
	case sim:
		return "sim:i2c-1"
	case k == SPIBus:
		return "/dev/spidev0.0"
	case k == SerialBus:
		return "/dev/ttyAMA0"
	}
	return "/dev/i2c-1"
}

// ReadOnce builds dev with the factory of a registered driver kind,
// reads it once as ReadFirst does (reading again every interval while it has
// no sample yet, until ctx ends) and halts it. It returns the sensor's name
// (its String) and its readings. This is `edgegw sensor read`.
func ReadOnce(ctx context.Context, kind string, dev Device, deps Deps, every time.Duration) (string, []reading.Reading, error) {
	factory, ok := Lookup(kind)
	if !ok {
		return "", nil, fmt.Errorf("%q is not a driver (want one of %s)", kind, strings.Join(Kinds(), ", "))
	}
	s, err := factory(dev, deps)
	if err != nil {
		return "", nil, err
	}
	defer s.Halt()
	rs, err := ReadFirst(ctx, s, every)
	return s.String(), rs, err
}
