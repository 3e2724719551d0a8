package modbusmeter

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// speeds maps the supported baud rates to their termios constants.
var speeds = map[int]uint32{
	300: unix.B300, 600: unix.B600, 1200: unix.B1200, 2400: unix.B2400, 4800: unix.B4800,
	9600: unix.B9600, 19200: unix.B19200, 38400: unix.B38400, 57600: unix.B57600,
	115200: unix.B115200, 230400: unix.B230400,
}

// ttyPort is a serial port opened non-blocking, so that a read waits in the
// runtime's poller until its deadline instead of a fixed per-read timeout.
type ttyPort struct{ f *os.File }

// openLine opens path as a raw 8-bit line at cfg's baud rate, parity and
// stop bits.
func openLine(path string, cfg LineConfig) (serialPort, error) {
	speed, ok := speeds[cfg.Baud]
	if !ok {
		return nil, fmt.Errorf("baud %d: not a standard rate", cfg.Baud)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	t := unix.Termios{Cflag: unix.CREAD | unix.CLOCAL | unix.CS8 | speed, Ispeed: speed, Ospeed: speed}
	switch cfg.Parity {
	case "E":
		t.Cflag |= unix.PARENB
		t.Iflag |= unix.INPCK
	case "O":
		t.Cflag |= unix.PARENB | unix.PARODD
		t.Iflag |= unix.INPCK
	}
	if cfg.StopBits == 2 {
		t.Cflag |= unix.CSTOPB
	}
	// VMIN 1: an empty queue reads as EAGAIN, so the read waits in the
	// poller; with VMIN 0 it would read as end of file.
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set line %s on %s: %w", cfg, path, err)
	}
	return &ttyPort{f: os.NewFile(uintptr(fd), path)}, nil
}

func (p *ttyPort) Write(b []byte) (int, error) { return p.f.Write(b) }

func (p *ttyPort) readBefore(b []byte, deadline time.Time) (int, error) {
	if err := p.f.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	n, err := p.f.Read(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, errSilent
	}
	return n, err
}

func (p *ttyPort) flush() error {
	rc, err := p.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = unix.IoctlSetInt(int(fd), unix.TCFLSH, unix.TCIFLUSH) }); err != nil {
		return err
	}
	if ferr != nil {
		return fmt.Errorf("flush input of %s: %w", p.f.Name(), ferr)
	}
	return nil
}

func (p *ttyPort) Close() error { return p.f.Close() }
