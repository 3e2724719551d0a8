//go:build !custom || drivers.mcp3008

package all

import _ "github.com/edgegw/edgegw/drivers/mcp3008" // register the mcp3008 driver
