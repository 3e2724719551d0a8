//go:build !custom || drivers.sim

package all

import _ "github.com/edgegw/edgegw/drivers/sim" // register the sim driver
