package meteremu

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgegw/edgegw/drivers/modbusmeter"
	"github.com/edgegw/edgegw/drivers/sim/ptypair"
)

// Bus is an Emulator serving the master end of a pseudo-terminal pair:
// drivers open Path as they would open /dev/ttyUSB0.
type Bus struct {
	*Emulator
	pair *ptypair.Pair

	mu      sync.Mutex
	paused  bool
	writeMu sync.Mutex     // one frame on the line at a time
	late    sync.WaitGroup // late replies not sent yet
	quit    chan struct{}  // closed by Close: late replies are dropped
	done    chan struct{}
	once    sync.Once
}

// Start builds an emulator for cfg and serves it on a new pseudo-terminal
// pair until Close.
func Start(cfg Config) (*Bus, error) {
	e, err := New(cfg)
	if err != nil {
		return nil, err
	}
	pair, err := ptypair.Open()
	if err != nil {
		return nil, err
	}
	b := &Bus{Emulator: e, pair: pair, quit: make(chan struct{}), done: make(chan struct{})}
	go b.serve()
	return b, nil
}

// Path returns the path drivers open, e.g. /dev/pts/3.
func (b *Bus) Path() string { return b.pair.Path }

// Close stops serving and closes the pair.
func (b *Bus) Close() error {
	var err error
	b.once.Do(func() {
		close(b.quit)
		err = b.pair.Close()
		<-b.done // serve schedules no late reply after this
		b.late.Wait()
	})
	return err
}

// Stop makes every unit silent and discards what arrives, as a bus whose
// meters lost power; Resume brings them back.
func (b *Bus) Stop() {
	b.mu.Lock()
	b.paused = true
	b.mu.Unlock()
}

// Resume undoes Stop.
func (b *Bus) Resume() {
	b.mu.Lock()
	b.paused = false
	b.mu.Unlock()
}

// serve reads request frames from the master end and answers them. Frames
// are delimited by their known length (8 bytes for a read request) and
// CRC; a byte that does not start a valid frame is dropped, so garbage on
// the line resynchronises. A slow unit's reply goes out after its delay
// while the bus goes on serving the other units, as on a real line: a late
// reply lands in whatever transaction follows.
func (b *Bus) serve() {
	defer close(b.done)
	var buf []byte
	chunk := make([]byte, 512)
	for {
		n, err := b.pair.Master.Read(chunk)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, unix.EIO) { // no slave open right now
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return
		}
		b.mu.Lock()
		paused := b.paused
		b.mu.Unlock()
		if paused {
			buf = buf[:0]
			continue
		}
		buf = append(buf, chunk[:n]...)
		for len(buf) >= 8 {
			if modbusmeter.CRC16(buf[:6]) != uint16(buf[6])|uint16(buf[7])<<8 {
				buf = buf[1:]
				continue
			}
			req := append([]byte(nil), buf[:8]...)
			buf = buf[8:]
			if !b.lineMatches() {
				continue // a meter at another baud or parity hears noise
			}
			reply, delay, ok := b.Respond(req)
			if !ok {
				continue
			}
			if delay > 0 {
				b.late.Add(1)
				go b.sendLate(reply, delay)
				continue
			}
			if err := b.send(reply); err != nil {
				return
			}
		}
	}
}

// send puts one reply frame on the line.
func (b *Bus) send(reply []byte) error {
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	_, err := b.pair.Master.Write(reply)
	return err
}

// sendLate sends a reply after delay, unless the bus closes first.
func (b *Bus) sendLate(reply []byte, delay time.Duration) {
	defer b.late.Done()
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		b.send(reply)
	case <-b.quit:
	}
}

var bauds = map[uint32]int{
	unix.B1200: 1200, unix.B2400: 2400, unix.B4800: 4800, unix.B9600: 9600,
	unix.B19200: 19200, unix.B38400: 38400, unix.B57600: 57600, unix.B115200: 115200,
}

// lineMatches reports whether the line setting the driver put on the
// terminal is the one the emulated meters listen at.
func (b *Bus) lineMatches() bool {
	cfg := b.cfg
	if cfg.Baud == 0 && cfg.Parity == "" && cfg.StopBits == 0 {
		return true
	}
	rc, err := b.pair.Slave.SyscallConn()
	if err != nil {
		return true
	}
	var t *unix.Termios
	_ = rc.Control(func(fd uintptr) { t, err = unix.IoctlGetTermios(int(fd), unix.TCGETS) })
	if err != nil || t == nil {
		return true
	}
	if cfg.Baud != 0 && bauds[t.Cflag&unix.CBAUD] != cfg.Baud {
		return false
	}
	parity := "N"
	if t.Cflag&unix.PARENB != 0 {
		parity = "E"
		if t.Cflag&unix.PARODD != 0 {
			parity = "O"
		}
	}
	if cfg.Parity != "" && parity != cfg.Parity {
		return false
	}
	stop := 1
	if t.Cflag&unix.CSTOPB != 0 {
		stop = 2
	}
	return cfg.StopBits == 0 || stop == cfg.StopBits
}
