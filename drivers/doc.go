// Package drivers holds edgegw's device model: the Reading a poll produces, the
// quality flags a reading can carry, the Sensor interface every driver
// implements, and the registry that maps a driver kind named in the
// configuration to the factory that builds it.
//
// Each driver lives in its own sub-package and registers itself from init;
// drivers/all links them into the binary.
package drivers
