package modbusmeter

import (
	"errors"
	"time"
)

// serialPort is an open serial line as the RTU transport uses it.
type serialPort interface {
	// Write sends b.
	Write(b []byte) (int, error)
	// readBefore reads what has arrived, waiting until deadline for the
	// first byte; it returns errSilent when nothing arrived by then.
	readBefore(b []byte, deadline time.Time) (int, error)
	// flush discards the input queue.
	flush() error
	// Close closes the port.
	Close() error
}

// errSilent reports that nothing arrived on the line before a deadline.
var errSilent = errors.New("line silent")

// openPort opens path at cfg's line setting (openLine, per platform) and
// discards whatever waited in its input queue.
func openPort(path string, cfg LineConfig) (serialPort, error) {
	p, err := openLine(path, cfg)
	if err != nil {
		return nil, err
	}
	if err := p.flush(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}
