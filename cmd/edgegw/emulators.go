//go:build !nodemo

package main

// The full build links the emulators of drivers/sim: the sim driver and the
// emulated "sim:" buses, which configs/demo.yaml and `edgegw demo` use. A
// production build (tag nodemo, make build-prod) leaves them out; the
// drivers of real hardware come from drivers/all in both.
import _ "github.com/edgegw/edgegw/drivers/sim"
