package chips

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/edgegw/edgegw/drivers/sim/ptypair"
)

// PMS5003 emulates a Plantower PMS5003 on a UART: active mode (a frame
// every second, the power-on default) and passive mode (a frame per read
// command), sleep and wake, the 32-byte data frame with its checksum and
// the 8-byte command acknowledgement. Unplug makes it silent.
type PMS5003 struct {
	Faults
	mu2     sync.Mutex
	passive bool
	asleep  bool
	clock   func() time.Time
}

// NewPMS5003 returns a PMS5003 in active mode; clock gives the values'
// time (time.Now if nil).
func NewPMS5003(clock func() time.Time) *PMS5003 {
	if clock == nil {
		clock = time.Now
	}
	return &PMS5003{clock: clock}
}

// reset restores the power-on state (active mode, awake).
func (c *PMS5003) reset() {
	c.mu2.Lock()
	c.passive, c.asleep = false, false
	c.mu2.Unlock()
}

// Frame returns the 32-byte data frame for time t.
func (c *PMS5003) Frame(t time.Time) []byte {
	t = c.valueTime(t)
	pm25 := wave(t, 18, 10, 3*time.Hour, 0.5)
	v := [13]uint16{
		uint16(pm25 * 0.6), uint16(pm25), uint16(pm25 * 1.7), // CF=1
		uint16(pm25 * 0.6), uint16(pm25), uint16(pm25 * 1.7), // atmospheric
		uint16(pm25 * 130), uint16(pm25 * 40), uint16(pm25 * 8), uint16(pm25), uint16(pm25 / 4), uint16(pm25 / 10), 0,
	}
	b := make([]byte, 32)
	b[0], b[1] = 0x42, 0x4D
	binary.BigEndian.PutUint16(b[2:], 28)
	for i, w := range v {
		binary.BigEndian.PutUint16(b[4+2*i:], w)
	}
	binary.BigEndian.PutUint16(b[30:], checksum(b[:30]))
	if c.takeCorrupt() {
		b[31] ^= 0x5A
	}
	return b
}

func checksum(b []byte) uint16 {
	var s uint16
	for _, v := range b {
		s += uint16(v)
	}
	return s
}

// command handles one 7-byte command and returns the reply, if any.
func (c *PMS5003) command(cmd []byte) []byte {
	if checksum(cmd[:5]) != binary.BigEndian.Uint16(cmd[5:]) {
		return nil
	}
	c.mu2.Lock()
	defer c.mu2.Unlock()
	ack := func() []byte {
		b := []byte{0x42, 0x4D, 0x00, 0x04, cmd[2], cmd[4], 0, 0}
		binary.BigEndian.PutUint16(b[6:], checksum(b[:6]))
		return b
	}
	switch cmd[2] {
	case 0xE1: // mode: 0 passive, 1 active
		c.passive = cmd[4] == 0
		return ack()
	case 0xE2: // read in passive mode
		if c.passive && !c.asleep {
			return c.Frame(c.clock())
		}
	case 0xE4: // 0 sleep, 1 wake
		c.asleep = cmd[4] == 0
		return ack()
	}
	return nil
}

// Serve talks to a driver over rw until rw fails: it answers commands and,
// in active mode, sends a frame every tick of tick (nil: no active
// streaming).
func (c *PMS5003) Serve(rw io.ReadWriter, tick <-chan time.Time) error {
	var wmu sync.Mutex
	write := func(b []byte) error {
		reset, err := c.begin()
		if reset {
			c.reset()
		}
		if err != nil || len(b) == 0 {
			return nil // unplugged: silent
		}
		wmu.Lock()
		defer wmu.Unlock()
		_, err = rw.Write(b)
		return err
	}
	done := make(chan struct{})
	defer close(done)
	if tick != nil {
		go func() {
			for {
				select {
				case <-done:
					return
				case <-tick:
					c.mu2.Lock()
					active := !c.passive && !c.asleep
					c.mu2.Unlock()
					if active {
						_ = write(c.Frame(c.clock()))
					}
				}
			}
		}()
	}
	var buf []byte
	b := make([]byte, 64)
	for {
		n, err := rw.Read(b)
		if err != nil {
			return err
		}
		buf = append(buf, b[:n]...)
		for len(buf) >= 7 {
			if buf[0] != 0x42 || buf[1] != 0x4D {
				buf = buf[1:]
				continue
			}
			if err := write(c.command(buf[:7])); err != nil {
				return err
			}
			buf = buf[7:]
		}
	}
}

// pmsServer is the running emulator behind a pseudo-terminal.
type pmsServer struct {
	pair *ptypair.Pair
	tick *time.Ticker
	done chan struct{}
}

// Close stops the emulator and closes the pseudo-terminal pair. The
// master's blocking read ends once every slave descriptor is closed; if a
// driver still holds the slave open, Close returns without waiting for it.
func (s *pmsServer) Close() error {
	s.tick.Stop()
	err := s.pair.Close()
	select {
	case <-s.done:
	case <-time.After(100 * time.Millisecond):
	}
	return err
}

// StartPMS5003 serves an emulated PMS5003 (active mode, one frame a second)
// on the master end of a new pseudo-terminal pair and returns the slave's
// path for the driver to open, the chip for fault injection through
// chip.Faults, and a Closer that stops it.
func StartPMS5003(clock func() time.Time) (path string, chip *PMS5003, c io.Closer, err error) {
	pair, err := ptypair.Open()
	if err != nil {
		return "", nil, nil, err
	}
	chip = NewPMS5003(clock)
	s := &pmsServer{pair: pair, tick: time.NewTicker(time.Second), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		err := chip.Serve(pair.Master, s.tick.C)
		if err != nil && !errors.Is(err, os.ErrClosed) {
			return
		}
	}()
	return pair.Path, chip, s, nil
}
