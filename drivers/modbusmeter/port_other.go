//go:build !linux

package modbusmeter

import (
	"errors"
	"time"

	"github.com/goburrow/serial"
)

// tick is how long one read of the portable serial port waits: deadlines
// and silences are measured in ticks.
const tick = 10 * time.Millisecond

// tickPort is goburrow's portable serial port read in short ticks, where the
// Linux port's poller deadlines are not available.
type tickPort struct{ p serial.Port }

// openLine opens path at cfg's line setting.
func openLine(path string, cfg LineConfig) (serialPort, error) {
	p, err := serial.Open(&serial.Config{Address: path, BaudRate: cfg.Baud, DataBits: 8, StopBits: cfg.StopBits, Parity: cfg.Parity, Timeout: tick})
	if err != nil {
		return nil, err
	}
	return &tickPort{p: p}, nil
}

func (t *tickPort) Write(b []byte) (int, error) { return t.p.Write(b) }

func (t *tickPort) readBefore(b []byte, deadline time.Time) (int, error) {
	for {
		n, err := t.p.Read(b)
		if n > 0 || (err != nil && !errors.Is(err, serial.ErrTimeout)) {
			return n, err
		}
		if !time.Now().Before(deadline) {
			return 0, errSilent
		}
	}
}

// flush reads until the line is silent for one tick, for at most a second.
func (t *tickPort) flush() error {
	var b [256]byte
	for end := time.Now().Add(time.Second); time.Now().Before(end); {
		_, err := t.p.Read(b[:])
		if errors.Is(err, serial.ErrTimeout) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (t *tickPort) Close() error { return t.p.Close() }
