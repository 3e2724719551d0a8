package bme280

import (
	"strings"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
)

func init() {
	drivers.MustRegister(drivers.Driver{Kind: "bme280", Factory: Factory, Channels: channels, Identify: identify, Addrs: Addrs})
}

// Factory builds a BME280 from its configuration (see the package
// documentation for the options). The bus is SPI when its name contains
// "spi".
func Factory(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	o := option.New(dev.Options)
	opts := &Opts{Common: o.Common(dev, deps, drivers.I2CBus, 0)}
	opts.Addr = uint16(o.Int("addr", 0x76, 0x76, 0x77))
	opts.Oversampling = int(o.Int("oversampling", 1, 1, 16))
	if strings.Contains(strings.ToLower(opts.BusName), "spi") {
		return option.Build(o, deps.SPI, opts.BusName, NewSPI, opts)
	}
	return option.Build(o, deps.I2C, opts.BusName, New, opts)
}
