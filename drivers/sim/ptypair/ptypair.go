// Package ptypair opens pseudo-terminal pairs in raw mode, so that an
// emulated serial device (a Modbus meter, a UART sensor) can serve one end
// while the real driver opens the other end by its path, exactly as it would
// open /dev/ttyUSB0.
package ptypair

import (
	"errors"
	"fmt"
	"os"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Pair is an open pseudo-terminal pair.
type Pair struct {
	Master *os.File // the emulator's end
	Slave  *os.File // kept open so the master never reads EIO between clients
	Path   string   // the slave's path, e.g. /dev/pts/3, for the driver to open
}

// Open opens a pair and puts the slave in raw mode (no echo, no line
// editing, 8 bits, no flow control), as a serial port driver would.
func Open() (*Pair, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pseudo-terminal: %w", err)
	}
	if err := makeRaw(slave); err != nil {
		return nil, errors.Join(fmt.Errorf("raw mode on %s: %w", slave.Name(), err), master.Close(), slave.Close())
	}
	return &Pair{Master: master, Slave: slave, Path: slave.Name()}, nil
}

// makeRaw sets f's terminal attributes as cfmakeraw(3) does.
func makeRaw(f *os.File) error {
	t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t)
}

// Close closes both ends.
func (p *Pair) Close() error {
	return errors.Join(p.Master.Close(), p.Slave.Close())
}
