package pms5003

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/reading"
)

// ErrChecksum reports a data frame whose checksum does not match.
var ErrChecksum = errors.New("checksum mismatch")

// Commands (7 bytes: 42 4D cmd 00 data checksum).
var (
	cmdPassive = []byte{0x42, 0x4D, 0xE1, 0x00, 0x00, 0x01, 0x70}
	cmdRead    = []byte{0x42, 0x4D, 0xE2, 0x00, 0x00, 0x01, 0x71}
	cmdSleep   = []byte{0x42, 0x4D, 0xE4, 0x00, 0x00, 0x01, 0x73}
	cmdWake    = []byte{0x42, 0x4D, 0xE4, 0x00, 0x01, 0x01, 0x74}
)

// defaultWarmup is how long readings are flagged WarmingUp after (re)start
// unless Opts.Warmup says otherwise.
const defaultWarmup = 30 * time.Second

// Opts configures a Dev. The zero value of each field selects its default,
// except BusName, which has none; Common.Warmup's is 30 s.
type Opts struct {
	drivers.Common
}

// Dev is a PMS5003 on a serial port.
type Dev struct {
	opts Opts
	port io.ReadWriter
	name string
	sess drivers.Session // initialisation and warm-up
	buf  []byte
}

var (
	_ drivers.Sensor    = (*Dev)(nil)
	_ drivers.Describer = (*Dev)(nil)
)

// New returns a PMS5003 on port, which must bound its reads with a timeout
// (a read that returns no data and an error ends the wait for a frame).
// It does no I/O. If port is an io.Closer, Halt closes it.
func New(port io.ReadWriter, opts *Opts) (*Dev, error) {
	o := drivers.OptsOf(opts)
	o.Defaults("", defaultWarmup)
	return &Dev{opts: o, port: port, name: "pms5003@" + o.BusName, sess: drivers.Session{Warmup: o.Warmup}}, nil
}

// String returns the instance name, e.g. "pms5003@/dev/ttyAMA0".
func (d *Dev) String() string { return d.name }

// Channels declares pm1, pm25 and pm10 (ug/m3, 0…1000: the effective
// range of the PMS5003 is 0…500, its maximum 1000).
func (d *Dev) Channels() []reading.Channel { return drivers.StuckAfter(channels, d.opts.StuckAfter) }

// channels are the channels of every PMS5003 (see Channels).
var channels = []reading.Channel{
	{Name: "pm1", Unit: reading.MicrogramM, Min: 0, Max: 1000},
	{Name: "pm25", Unit: reading.MicrogramM, Min: 0, Max: 1000},
	{Name: "pm10", Unit: reading.MicrogramM, Min: 0, Max: 1000},
}

// Frame is a decoded 32-byte data frame.
type Frame struct {
	CF1    [3]uint16 // PM1.0, PM2.5, PM10 at CF=1, ug/m3
	Atm    [3]uint16 // PM1.0, PM2.5, PM10 atmospheric, ug/m3
	Counts [6]uint16 // particles > 0.3, 0.5, 1.0, 2.5, 5, 10 um per 0.1 L
}

// Decode checks and decodes a 32-byte data frame.
func Decode(b []byte) (Frame, error) {
	var f Frame
	if len(b) != 32 || b[0] != 0x42 || b[1] != 0x4D || binary.BigEndian.Uint16(b[2:]) != 28 {
		return f, fmt.Errorf("not a data frame: % x", b)
	}
	var sum uint16
	for _, v := range b[:30] {
		sum += uint16(v)
	}
	if got := binary.BigEndian.Uint16(b[30:]); got != sum {
		return f, fmt.Errorf("%w: got 0x%04x, want 0x%04x", ErrChecksum, got, sum)
	}
	w := func(i int) uint16 { return binary.BigEndian.Uint16(b[4+2*i:]) }
	for i := range 3 {
		f.CF1[i], f.Atm[i] = w(i), w(3+i)
	}
	for i := range 6 {
		f.Counts[i] = w(6 + i)
	}
	return f, nil
}

// frame reads until a data frame arrives, skipping acknowledgements and
// noise. It fails when a read returns an error.
func (d *Dev) frame(ctx context.Context) ([]byte, error) {
	chunk := make([]byte, 64)
	for {
		// Resynchronise on 42 4D.
		for len(d.buf) >= 2 && (d.buf[0] != 0x42 || d.buf[1] != 0x4D) {
			d.buf = d.buf[1:]
		}
		if len(d.buf) >= 4 {
			n := 4 + int(binary.BigEndian.Uint16(d.buf[2:]))
			if n != 32 && n != 8 {
				d.buf = d.buf[1:] // not a frame start
				continue
			}
			if len(d.buf) >= n {
				f := d.buf[:n:n]
				d.buf = d.buf[n:]
				if n == 32 {
					return f, nil
				}
				continue // command acknowledgement
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k, err := d.port.Read(chunk)
		d.buf = append(d.buf, chunk[:k]...)
		if err != nil && k == 0 {
			return nil, fmt.Errorf("no frame: %w", err)
		}
	}
}

// init wakes the sensor and puts it in passive mode (frames on request).
func (d *Dev) init(context.Context) error {
	d.buf = d.buf[:0]
	for _, c := range [][]byte{cmdWake, cmdPassive} {
		if _, err := d.port.Write(c); err != nil {
			return err
		}
	}
	return nil
}

// Read asks for a frame and returns pm1, pm25 and pm10.
func (d *Dev) Read(ctx context.Context) ([]reading.Reading, error) {
	return d.sess.Poll(ctx, d, d.opts.Now, d.init, func() {
		d.opts.Logger.Info("device initialised", "bus", d.opts.BusName)
	}, d.read, ErrChecksum)
}

// read requests a frame and decodes it.
func (d *Dev) read(ctx context.Context) ([]reading.Reading, error) {
	if _, err := d.port.Write(cmdRead); err != nil {
		return nil, fmt.Errorf("request frame: %w", err)
	}
	b, err := d.frame(ctx)
	if err != nil {
		return nil, err
	}
	f, err := Decode(b)
	if err != nil {
		return nil, err
	}
	return d.sess.Readings(d.opts.Device, channels, []float64{float64(f.Atm[0]), float64(f.Atm[1]), float64(f.Atm[2])}, d.opts.Now()), nil
}

// Halt puts the sensor to sleep and closes the port if it is a Closer.
func (d *Dev) Halt() error {
	var errs []error
	if d.sess.Ready() {
		if _, err := d.port.Write(cmdSleep); err != nil {
			errs = append(errs, err)
		}
		d.sess.Reset()
	}
	if c, ok := d.port.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: halt: %w", d, err)
	}
	return nil
}
