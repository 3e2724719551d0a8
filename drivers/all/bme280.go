//go:build !custom || drivers.bme280

package all

import _ "github.com/edgegw/edgegw/drivers/bme280" // register the bme280 driver
