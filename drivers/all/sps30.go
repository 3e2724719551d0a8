//go:build !custom || drivers.sps30

package all

import _ "github.com/edgegw/edgegw/drivers/sps30" // register the sps30 driver
