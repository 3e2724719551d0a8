package sps30

import (
	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
)

func init() {
	drivers.MustRegister("sps30", Factory)
	drivers.MustRegisterChannels("sps30", channels)
	drivers.MustRegisterIdentify("sps30", []uint16{Addr}, drivers.ByAddress("SPS30 particulate sensor"))
}

// Factory builds an SPS30 from its configuration (see the package
// documentation for the options).
func Factory(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	o := option.New(dev.Options)
	opts := &Opts{Common: o.Common(dev, deps, drivers.I2CBus, defaultWarmup)}
	o.Int("addr", Addr, Addr, Addr)
	return option.Build(o, deps.I2C, opts.BusName, New, opts)
}
