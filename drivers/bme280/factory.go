package bme280

import (
	"fmt"
	"github.com/edgegw/edgegw/drivers/option"
	"strings"

	"github.com/edgegw/edgegw/drivers"
)

func init() { drivers.MustRegister("bme280", Factory) }

// Factory builds a BME280 from its configuration (see the package
// documentation for the options). The bus is SPI when its name contains
// "spi".
func Factory(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	o := option.New(dev.Options)
	bus := o.Str("bus", "")
	if bus == "" {
		o.Fail("bus", "required (e.g. /dev/i2c-1)")
	}
	addr := o.Int("addr", 0x76, 0x76, 0x77)
	opts := &Opts{
		Addr:         uint16(addr),
		Device:       dev.Name,
		BusName:      bus,
		Oversampling: int(o.Int("oversampling", 1, 1, 16)),
		StuckAfter:   int(o.Int("stuck_after", 0, 0, 1_000_000)),
		Warmup:       o.Duration("warmup", 0),
		Now:          deps.Now,
		Logger:       deps.Logger,
	}
	if err := o.Err(); err != nil {
		return nil, err
	}
	if deps.Buses == nil {
		return nil, fmt.Errorf("options.bus: no buses available")
	}
	if strings.Contains(strings.ToLower(bus), "spi") {
		port, err := deps.Buses.SPI(bus)
		if err != nil {
			return nil, fmt.Errorf("options.bus: %w", err)
		}
		return NewSPI(port, opts)
	}
	b, err := deps.Buses.I2C(bus)
	if err != nil {
		return nil, fmt.Errorf("options.bus: %w", err)
	}
	return New(b, opts)
}
