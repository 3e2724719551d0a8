package drivers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/edgegw/edgegw/drivers/reading"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/spi"
)

// Sensor is one configured device. The gateway polls it on its interval and
// never calls Read concurrently on the same Sensor.
type Sensor interface {
	// String gives a unique instance name such as "sim@aq-1" or
	// "bme280@i2c1:0x76".
	String() string
	// Read polls the device once. Readings are timestamped with the clock from
	// Deps. A device that cannot be read returns an error naming itself; the
	// gateway then records read-error readings for its channels.
	Read(ctx context.Context) ([]reading.Reading, error)
	// Halt leaves the device inert.
	Halt() error
}

// Describer is implemented by sensors that declare their channels. The
// gateway uses it for range validation and to report read errors per channel.
type Describer interface {
	Channels() []reading.Channel
}

// StatsReporter is implemented by sensors that keep statistics of their
// own (a Modbus meter's timeouts, CRC errors, latency, counter resets). The
// gateway includes them in its health document and status.
type StatsReporter interface {
	DriverStats() any
}

// Device is the part of the configuration a driver factory sees.
type Device struct {
	Name    string         // configured device name, unique in the gateway
	Model   string         // driver-specific model, may be empty
	Options map[string]any // driver-specific options from the configuration
}

// Deps is what the gateway hands a driver factory.
type Deps struct {
	Now    func() time.Time // clock used to timestamp readings
	Logger *slog.Logger     // scoped with driver and device attributes
	Buses  Buses            // the buses the device may be attached to
}

// Factory builds a Sensor from its configuration. It validates the options
// before any I/O and returns errors naming the option at fault.
type Factory func(dev Device, deps Deps) (Sensor, error)

// errNoBuses is returned when a driver that needs a bus gets no Buses.
var errNoBuses = errors.New("options.bus: no buses available")

// I2C returns the I²C bus named by a device's bus option; errors name
// options.bus.
func (d Deps) I2C(name string) (i2c.Bus, error) { return openBus(d.Buses, Buses.I2C, name) }

// SPI returns the SPI port named by a device's bus option; errors name
// options.bus.
func (d Deps) SPI(name string) (spi.Port, error) { return openBus(d.Buses, Buses.SPI, name) }

// Serial returns the device path of the serial port named by a device's bus
// option; errors name options.bus.
func (d Deps) Serial(name string) (string, error) { return openBus(d.Buses, Buses.Serial, name) }

// openBus opens the bus called name on buses with open; errors name
// options.bus.
func openBus[B any](buses Buses, open func(Buses, string) (B, error), name string) (B, error) {
	var none B
	if buses == nil {
		return none, errNoBuses
	}
	b, err := open(buses, name)
	if err != nil {
		return none, fmt.Errorf("options.bus: %w", err)
	}
	return b, nil
}

// Sleep waits d or until ctx is done, for drivers waiting on a chip.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ReadFirst reads s once for a one-shot command, waiting for its first
// sample within ctx: while s reports ErrNoData (a measurement that has just
// started, a sample not due yet) it reads again every interval. When ctx
// ends first, it returns the sensor's last ErrNoData error. The agent does
// not wait so: its next poll gets the sample.
func ReadFirst(ctx context.Context, s Sensor, every time.Duration) ([]reading.Reading, error) {
	var noData error
	for {
		rs, err := s.Read(ctx)
		switch {
		case errors.Is(err, ErrNoData):
			noData = err
		case err != nil && ctx.Err() != nil && noData != nil:
			return nil, noData // the deadline cut a wait for the sample
		default:
			return rs, err
		}
		if Sleep(ctx, every) != nil {
			return nil, noData
		}
	}
}
