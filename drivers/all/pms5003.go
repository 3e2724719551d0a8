//go:build !custom || drivers.pms5003

package all

import _ "github.com/edgegw/edgegw/drivers/pms5003" // register the pms5003 driver
