package sps30

import (
	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
	"periph.io/x/conn/v3/i2c"
)

func init() {
	drivers.MustRegister("sps30", Factory)
	drivers.MustRegisterChannels("sps30", channels)
	// A scan sends it no command: its address says what it probably is.
	drivers.MustRegisterIdentify("sps30", []uint16{Addr}, func(i2c.Bus, uint16) (string, bool) {
		return "SPS30 particulate sensor? (Sensirion address)", true
	})
}

// Factory builds an SPS30 from its configuration (see the package
// documentation for the options).
func Factory(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	o := option.New(dev.Options)
	opts := &Opts{Common: o.Common(dev, deps, "/dev/i2c-1", defaultWarmup)}
	o.Int("addr", Addr, Addr, Addr)
	if err := o.Err(); err != nil {
		return nil, err
	}
	b, err := deps.I2C(opts.BusName)
	if err != nil {
		return nil, err
	}
	return New(b, opts)
}
