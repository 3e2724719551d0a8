package modbusmeter

import (
	"errors"
	"fmt"
)

// Sentinel errors of a register read. Read errors wrap one of them (or an
// *ExceptionError), so callers classify with errors.Is and errors.As.
var (
	// ErrTimeout reports that the unit did not answer, or answered only part
	// of a frame, within the timeout.
	ErrTimeout = errors.New("timeout")
	// ErrCRC reports a reply whose CRC-16/MODBUS did not match: noise on
	// the line, a collision, or a half-received frame.
	ErrCRC = errors.New("crc mismatch")
	// ErrFrame reports a reply that does not answer the request: a
	// truncated frame, a wrong length or byte count, or values outside their
	// plausible range that a second read contradicted (a reply to another
	// request taken for this one).
	ErrFrame = errors.New("malformed reply")
	// ErrLineBusy reports that the poll's deadline passed while other units'
	// transactions held the line, before this request could be sent. It is
	// not held against the unit: it is not backed off for it.
	ErrLineBusy = errors.New("line busy")
	// ErrBackoff reports that a poll was skipped because the meter failed
	// on its previous polls and is being backed off.
	ErrBackoff = errors.New("backing off")
	// ErrClosed reports a read on a bus that was closed.
	ErrClosed = errors.New("bus closed")
)

// ExceptionError is a Modbus exception reply from the unit.
type ExceptionError struct {
	Function  uint8 // function code of the request (without the 0x80 bit)
	Exception uint8 // exception code, 1..11
}

// Error implements error.
func (e *ExceptionError) Error() string {
	return fmt.Sprintf("exception %d (%s)", e.Exception, exceptionName(e.Exception))
}

// Permanent reports whether retrying the same request is pointless: illegal
// function, address or value usually mean a profile that does not match the
// meter.
func (e *ExceptionError) Permanent() bool { return e.Exception >= 1 && e.Exception <= 3 }

func exceptionName(code uint8) string {
	switch code {
	case 1:
		return "illegal function"
	case 2:
		return "illegal data address"
	case 3:
		return "illegal data value"
	case 4:
		return "server device failure"
	case 5:
		return "acknowledge"
	case 6:
		return "server device busy"
	case 8:
		return "memory parity error"
	case 10:
		return "gateway path unavailable"
	case 11:
		return "gateway target failed to respond"
	}
	return "unknown"
}
