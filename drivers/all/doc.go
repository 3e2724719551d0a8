// Package all links every edgegw driver of real hardware into the binary.
// Each import carries a build tag like `!custom || drivers.<kind>`, so a
// build with the tag `custom` links only the drivers named by their own tags.
//
// The emulators of drivers/sim (the sim driver and the "sim:" buses) are not
// here: cmd/edgegw links them, with the demo, unless built with the tag
// nodemo (the production build, `make build-prod`).
package all
