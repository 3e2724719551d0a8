// Package meteremu emulates Modbus RTU energy meters for tests and demos. An
// Emulator serves any modbusmeter profile (shipped or from a file) for
// several unit ids on one bus, with values that move over time (voltages
// around 230 V, frequency around 50 Hz, …) and energy counters that rise.
//
// Start serves an Emulator on the master end of a pseudo-terminal pair
// (drivers/sim/ptypair), so the real goburrow RTU client opens Path as it
// would open /dev/ttyUSB0. The emulated meters listen at one line setting:
// a request sent at another baud rate or parity gets no reply, so scans find
// the setting. Emulator.Send is an in-memory goburrow Transporter for fast
// unit tests.
//
// Faults can be injected per unit: no reply (Dead), an exception reply, a
// bad CRC, a partial frame, noise before the reply, a slow reply (sent late
// while the bus goes on serving the other units), counters reset
// (ResetCounters, SetCounter), a changed word order (SetOrder), and the
// whole bus going silent (Stop/Resume, an emulator restart).
package meteremu
