package scd4x

import (
	"time"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
)

func init() {
	drivers.MustRegister("scd4x", Factory)
	drivers.MustRegisterChannels("scd4x", channels)
}

// Factory builds an SCD4x from its configuration (see the package
// documentation for the options).
func Factory(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	o := option.New(dev.Options)
	bus := o.Bus("/dev/i2c-1")
	o.Int("addr", Addr, Addr, Addr)
	opts := &Opts{
		Device:     dev.Name,
		BusName:    bus,
		LowPower:   o.Bool("low_power", false),
		StuckAfter: o.StuckAfter(),
		Warmup:     o.Warmup(60 * time.Second),
		Now:        deps.Now,
		Logger:     deps.Logger,
	}
	if err := o.Err(); err != nil {
		return nil, err
	}
	b, err := deps.I2C(bus)
	if err != nil {
		return nil, err
	}
	return New(b, opts)
}
