// Package modbusmeter reads energy meters over Modbus RTU (RS-485) with
// github.com/goburrow/modbus, kept behind the narrow Client interface so it
// stays replaceable (goburrow is unmaintained since 2018).
//
// Meter models are data: embedded YAML profiles under profiles/ (Eastron
// SDM120 and SDM630, Schneider PM5100/PM5300, Selec MFM383A) give each
// value's function code, zero-based wire address, type, word order, scale,
// SenML unit, plausible range and whether it is a counter. A configuration
// may name a profile file of its own instead. Each profile states its source
// and what was verified: all shipped register maps come from third-party
// integration code (volkszaehler/mbmd for Eastron; see the file headers),
// none was verified on hardware by edgegw. Schneider EM6400, L&T and Secure
// Elite are not shipped: no register map could be verified.
//
// Datasheets and references: Modbus over serial line V1.02
// (https://modbus.org/docs/Modbus_over_serial_line_V1_02.pdf), Modbus
// application protocol V1.1b3, Eastron SDM630/SDM120 Modbus protocol
// documents, Schneider PM5xxx register list, Selec MFM383A manual.
//
// Reading: Plan groups a profile's registers into the fewest, cheapest read
// requests (never over 125 registers or the profile's max_regs, never across
// a function code or a no_span range, through holes of at most gap_budget
// registers), by dynamic programming over a wire-cost model of 20 characters
// per request and 2 per register. At 9600 8N1 an SDM630 full poll is 5
// requests and 362.5 ms of line time against 44 requests and 1100 ms one
// value at a time.
//
// Sharing a line: every meter on one port uses one Bus (OpenBus is reference
// counted per path). The Bus runs one transaction at a time, in the order
// they were asked for, keeps the 3.5 character silence between frames and
// sets the unit id before each request (goburrow keeps one per handler). A
// meter holds the line for the requests of one poll while they succeed and
// gives it up after a failure, so that a slow unit's retries do not come
// between a healthy unit's requests. A poll whose deadline passes while
// other units hold the line fails with ErrLineBusy and is not held against
// the unit (no backoff).
//
// The serial transport is the package's own (goburrow's packager still
// frames and checks each reply): it opens the port with its input queue
// flushed and flushes it before every request, so that a reply left by an
// earlier transaction or an earlier process is never read as the answer;
// it reads the reply as bytes arrive until the timeout, and picks it out of
// the line's other traffic by unit, function, byte count and CRC: a late
// reply from another unit, or to an earlier request, is skipped (counted in
// LineStats), not taken for the answer nor blamed on the unit asked. After
// a failed transaction the line is kept quiet until it has been silent for
// the timeout (bounded by twice the timeout), so that a unit answering late
// finishes before the next request, as a half-duplex RS-485 line needs.
// I/O errors close the port, so a replugged USB adapter is reopened.
//
// Plausibility: a reply with a value outside its point's range (or not a
// number) is read again. A reply to another request of the same length
// (left over by a killed process) is then discarded and counted as
// Implausible; a value the meter repeats is used, and the gateway flags it
// out of range.
//
// Faults: a timeout, CRC or frame error is retried Retries times; exception
// replies 1–3 are not retried (a profile error). A dead unit therefore costs
// at most (1+retries) × (wire time + timeout + quiet time) per poll, and
// after two failed polls in a row the meter is backed off exponentially up
// to backoff_max, skipping the bus entirely, until a poll succeeds again.
// Errors name port, unit, function and address; a reply that did not come
// in time is a timeout ("timeout: no reply within 300ms"), never the poll's
// context ending.
//
// Counters: integer counters that drop from the top quarter of their range
// to the bottom quarter are rollovers and are unwrapped, so the reported
// value keeps rising; any other drop is reported as read and flagged
// CounterWentBack (Stats counts both).
//
// goburrow v0.1.0 quirks handled here: its serial transport flushes
// nothing, sleeps a fixed wire time and reads whatever is there (replaced,
// see above), it does not check the reply length against the request
// (checked), and it panics on a 4-byte reply with a valid CRC (recovered
// as ErrFrame).
//
// Options (the device's options mapping):
//
//	port: /dev/ttyUSB0   # or sim:rs485-1; required
//	unit: 1              # slave id 1..247; required
//	profile: sdm630      # shipped name or path to a YAML profile; required
//	baud: 9600           # default 9600
//	parity: N            # N, E or O; default N
//	stop_bits: 1         # 1 or 2; default 1
//	timeout: 500ms       # per reply; default 500ms
//	retries: 1           # 0..5; default 1
//	gap_budget: 8        # registers read through per hole, 0..125; default 8
//	backoff_max: 5m      # longest backoff of a failing meter; default 5m
//	stuck_after: 0       # identical gauge values before "stuck"; 0 disables
package modbusmeter
