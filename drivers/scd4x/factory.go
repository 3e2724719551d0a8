package scd4x

import (
	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
)

func init() {
	drivers.MustRegister(drivers.Driver{Kind: "scd4x", Factory: Factory, Channels: channels,
		Identify: drivers.ByAddress("SCD4x CO2 sensor"), Addrs: []uint16{Addr}})
}

// Factory builds an SCD4x from its configuration (see the package
// documentation for the options).
func Factory(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	o := option.New(dev.Options)
	opts := &Opts{Common: o.Common(dev, deps, drivers.I2CBus, defaultWarmup)}
	o.Int("addr", Addr, Addr, Addr)
	opts.LowPower = o.Bool("low_power", false)
	return option.Build(o, deps.I2C, opts.BusName, New, opts)
}
