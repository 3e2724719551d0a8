package sps30

import (
	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
)

func init() {
	drivers.MustRegister(drivers.Driver{Kind: "sps30", Factory: Factory, Channels: channels,
		Identify: drivers.ByAddress("SPS30 particulate sensor"), Addrs: []uint16{Addr}})
}

// Factory builds an SPS30 from its configuration (see the package
// documentation for the options).
func Factory(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	o := option.New(dev.Options)
	opts := &Opts{Common: o.Common(dev, deps, drivers.I2CBus, defaultWarmup)}
	o.Int("addr", Addr, Addr, Addr)
	return option.Build(o, deps.I2C, opts.BusName, New, opts)
}
