//go:build !custom || drivers.ads1115

package all

import _ "github.com/edgegw/edgegw/drivers/ads1115" // register the ads1115 driver
