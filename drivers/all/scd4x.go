//go:build !custom || drivers.scd4x

package all

import _ "github.com/edgegw/edgegw/drivers/scd4x" // register the scd4x driver
