// Package sim provides simulated devices so that edgegw runs end to end
// without hardware: an air-quality node ("airquality": temperature,
// humidity, pressure, CO2, particulate matter, NO2) and a three-phase energy
// meter ("meter3p": voltages, currents, powers, a rising energy counter and
// frequency).
//
// Values are a pure function of the seed, the device name, the channel and
// the time (see Value), so tests can check that what the backend opened is
// exactly what the device produced. Values are float32-exact, as real meters
// and sensor drivers deliver them.
//
// Options:
//
//	seed: 1             # integer, varies the signal per device (default 0)
//	fail_every: 0       # every Nth poll fails with a read error (0 = never)
//	trace: /tmp/x.log   # append one line per poll: "<unix nanoseconds> <readings>"
//
// The trace file lets crash tests know what was produced before a kill -9:
// each poll's line is written with a single write(2) before Read returns.
package sim
