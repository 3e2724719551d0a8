//go:build !custom || drivers.modbusmeter

package all

import _ "github.com/edgegw/edgegw/drivers/modbusmeter" // register the modbusmeter driver
