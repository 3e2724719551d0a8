package sps30

import (
	"fmt"
	"github.com/edgegw/edgegw/drivers/option"
	"time"

	"github.com/edgegw/edgegw/drivers"
)

func init() { drivers.MustRegister("sps30", Factory) }

// Factory builds an SPS30 from its configuration (see the package
// documentation for the options).
func Factory(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	o := option.New(dev.Options)
	bus := o.Str("bus", "")
	if bus == "" {
		o.Fail("bus", "required (e.g. /dev/i2c-1)")
	}
	o.Int("addr", Addr, Addr, Addr)
	opts := &Opts{
		Device:     dev.Name,
		BusName:    bus,
		StuckAfter: int(o.Int("stuck_after", 0, 0, 1_000_000)),
		Warmup:     o.Duration("warmup", 30*time.Second),
		Now:        deps.Now,
		Logger:     deps.Logger,
	}
	if opts.Warmup == 0 {
		opts.Warmup = -1
	}
	if err := o.Err(); err != nil {
		return nil, err
	}
	if deps.Buses == nil {
		return nil, fmt.Errorf("options.bus: no buses available")
	}
	b, err := deps.Buses.I2C(bus)
	if err != nil {
		return nil, fmt.Errorf("options.bus: %w", err)
	}
	return New(b, opts)
}
