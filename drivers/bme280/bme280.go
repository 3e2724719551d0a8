package bme280

import (
	"context"
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/reading"
)

// Opts configures a Dev. The zero value of each field selects its default;
// Common.Warmup's is none.
type Opts struct {
	drivers.Common
	Addr         uint16                                           // I²C address: 0x76 (default) or 0x77; ignored on SPI
	Oversampling int                                              // 1 (default), 2, 4, 8 or 16, for T, p and RH alike
	ReadyTimeout time.Duration                                    // bound on status polling after a measurement's typical time; default 50 ms
	Sleep        func(ctx context.Context, d time.Duration) error // waits; default a timer honouring ctx
}

// Dev is a BME280 on I²C or SPI.
type Dev struct {
	opts Opts
	name string
	c    conn.Conn
	spi  bool
	osrs byte
	cal  Calibration
	sess drivers.Session // initialisation and warm-up
}

var (
	_ drivers.Sensor    = (*Dev)(nil)
	_ drivers.Describer = (*Dev)(nil)
)

// New returns a BME280 on an I²C bus. It does no I/O: the chip is
// initialised on the first Read and again after it was lost.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	o := defaults(opts, bus.String())
	if o.Addr == 0 {
		o.Addr = 0x76
	}
	if o.Addr != 0x76 && o.Addr != 0x77 {
		return nil, fmt.Errorf("bme280: address 0x%02x is not 0x76 or 0x77", o.Addr)
	}
	return newDev(&i2c.Dev{Bus: bus, Addr: o.Addr}, false, o, fmt.Sprintf("bme280@%s:0x%02x", o.BusName, o.Addr))
}

// NewSPI returns a BME280 on an SPI port (mode 3, 10 MHz). It connects the
// port once; the chip is initialised on the first Read.
func NewSPI(port spi.Port, opts *Opts) (*Dev, error) {
	o := defaults(opts, port.String())
	c, err := port.Connect(10*physic.MegaHertz, spi.Mode3, 8)
	if err != nil {
		return nil, fmt.Errorf("bme280@%s: connect: %w", o.BusName, err)
	}
	return newDev(c, true, o, "bme280@"+o.BusName)
}

// defaults returns a copy of opts with defaults set; bus names the bus.
func defaults(opts *Opts, bus string) Opts {
	o := drivers.OptsOf(opts)
	o.Defaults(bus, 0)
	if o.Sleep == nil {
		o.Sleep = drivers.Sleep
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 50 * time.Millisecond
	}
	if o.Oversampling == 0 {
		o.Oversampling = 1
	}
	return o
}

func newDev(c conn.Conn, isSPI bool, o Opts, name string) (*Dev, error) {
	codes := map[int]byte{1: 1, 2: 2, 4: 3, 8: 4, 16: 5}
	osrs, ok := codes[o.Oversampling]
	if !ok {
		return nil, fmt.Errorf("%s: oversampling %d is not 1, 2, 4, 8 or 16", name, o.Oversampling)
	}
	return &Dev{opts: o, name: name, c: c, spi: isSPI, osrs: osrs, sess: drivers.Session{Warmup: o.Warmup}}, nil
}

// String returns the instance name, e.g. "bme280@/dev/i2c-1:0x76".
func (d *Dev) String() string { return d.name }

// Channels declares t (°C, −40…85), rh (%RH, 0…100) and p (Pa,
// 30000…110000), the chip's operating ranges.
func (d *Dev) Channels() []reading.Channel { return drivers.StuckAfter(channels, d.opts.StuckAfter) }

// channels are the channels of every BME280 (see Channels).
var channels = []reading.Channel{
	{Name: "t", Unit: reading.Celsius, Min: -40, Max: 85},
	{Name: "rh", Unit: reading.RelHumid, Min: 0, Max: 100},
	{Name: "p", Unit: reading.Pascal, Min: 30000, Max: 110000},
}

// readReg reads len(b) bytes from consecutive registers.
func (d *Dev) readReg(reg byte, b []byte) error {
	if !d.spi {
		return d.c.Tx([]byte{reg}, b)
	}
	w := make([]byte, len(b)+1)
	r := make([]byte, len(b)+1)
	w[0] = reg | 0x80
	if err := d.c.Tx(w, r); err != nil {
		return err
	}
	copy(b, r[1:])
	return nil
}

// writeRegs writes register/value pairs.
func (d *Dev) writeRegs(pairs ...byte) error {
	if d.spi {
		w := make([]byte, len(pairs))
		copy(w, pairs)
		for i := 0; i < len(w); i += 2 {
			w[i] &^= 0x80
		}
		return d.c.Tx(w, make([]byte, len(w)))
	}
	return d.c.Tx(pairs, nil)
}

// init resets the chip, checks its id and reads its calibration.
func (d *Dev) init(ctx context.Context) error {
	var id [1]byte
	if err := d.readReg(regChipID, id[:]); err != nil {
		return fmt.Errorf("read chip id: %w", err)
	}
	switch id[0] {
	case idBME280:
	case idBMP280:
		return fmt.Errorf("chip id 0x%02x is a BMP280, which has no humidity", id[0])
	default:
		return fmt.Errorf("chip id 0x%02x is not a BME280 (0x%02x)", id[0], idBME280)
	}
	if err := d.writeRegs(0xE0, 0xB6); err != nil {
		return fmt.Errorf("soft reset: %w", err)
	}
	if err := d.opts.Sleep(ctx, 2*time.Millisecond); err != nil {
		return err
	}
	if err := d.waitStatus(ctx, 0x01, "nvm copy"); err != nil {
		return err
	}
	var tp [26]byte
	var h [7]byte
	if err := d.readReg(0x88, tp[:]); err != nil {
		return fmt.Errorf("read calibration: %w", err)
	}
	if err := d.readReg(0xE1, h[:]); err != nil {
		return fmt.Errorf("read calibration: %w", err)
	}
	d.cal = ParseCalibration(tp, h)
	if d.cal.T1 == 0 || d.cal.P1 == 0 {
		return errors.New("calibration is blank")
	}
	// Humidity oversampling, no IIR filter, sleep mode.
	if err := d.writeRegs(0xF2, d.osrs, 0xF5, 0x00, 0xF4, d.osrs<<5|d.osrs<<2); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	return nil
}

// waitStatus polls the status register until mask clears, within
// ReadyTimeout.
func (d *Dev) waitStatus(ctx context.Context, mask byte, what string) error {
	deadline := d.opts.Now().Add(d.opts.ReadyTimeout)
	for {
		var st [1]byte
		if err := d.readReg(0xF3, st[:]); err != nil {
			return fmt.Errorf("read status: %w", err)
		}
		if st[0]&mask == 0 {
			return nil
		}
		if !d.opts.Now().Before(deadline) {
			return fmt.Errorf("%s still busy after %s (status 0x%02x)", what, d.opts.ReadyTimeout, st[0])
		}
		if err := d.opts.Sleep(ctx, time.Millisecond); err != nil {
			return err
		}
	}
}

// measTime is the datasheet's typical measurement time.
func (d *Dev) measTime() time.Duration {
	n := float64(int(1) << (d.osrs - 1))
	return time.Duration((1 + 2*n + 2*n + 0.5 + 2*n + 0.5) * float64(time.Millisecond))
}

// Read runs one forced measurement and returns t, rh and p.
func (d *Dev) Read(ctx context.Context) ([]reading.Reading, error) {
	return d.sess.Poll(ctx, d, d.opts.Now, d.init, func() {
		d.opts.Logger.Info("device initialised", "bus", d.opts.BusName, "addr", fmt.Sprintf("0x%02x", d.opts.Addr))
	}, d.read)
}

// read runs one forced measurement and compensates it.
func (d *Dev) read(ctx context.Context) ([]reading.Reading, error) {
	raw, err := d.measure(ctx)
	if err != nil {
		return nil, err
	}
	adcT, adcP, adcH, err := DecodeRaw(raw)
	if err != nil {
		return nil, err // the chip was reset: initialise again
	}
	t, p, h := d.cal.Compensate(adcT, adcP, adcH)
	return d.sess.Readings(d.opts.Device, channels, []float64{float64(t) / 100, float64(h) / 1024, float64(p) / 256}, d.opts.Now()), nil
}

// DecodeRaw decodes the burst read of the data registers 0xF7–0xFE into
// adc_T and adc_P (20-bit, from msb, lsb and xlsb[7:4]) and adc_H (16-bit).
// It fails when any of them holds its reset value (0x80000, 0x8000): that
// measurement was skipped, as after a reset.
func DecodeRaw(raw [8]byte) (adcT, adcP, adcH int32, err error) {
	adcP = int32(raw[0])<<12 | int32(raw[1])<<4 | int32(raw[2])>>4
	adcT = int32(raw[3])<<12 | int32(raw[4])<<4 | int32(raw[5])>>4
	adcH = int32(raw[6])<<8 | int32(raw[7])
	if adcT == 0x80000 || adcP == 0x80000 || adcH == 0x8000 {
		return 0, 0, 0, errors.New("measurement skipped (reset values in data registers)")
	}
	return adcT, adcP, adcH, nil
}

// measure triggers a forced measurement and returns the 8 data bytes.
func (d *Dev) measure(ctx context.Context) ([8]byte, error) {
	var raw [8]byte
	if err := d.writeRegs(0xF2, d.osrs, 0xF4, d.osrs<<5|d.osrs<<2|0x01); err != nil {
		return raw, fmt.Errorf("start measurement: %w", err)
	}
	if err := d.opts.Sleep(ctx, d.measTime()); err != nil {
		return raw, err
	}
	if err := d.waitStatus(ctx, 0x08, "measurement"); err != nil {
		return raw, err
	}
	if err := d.readReg(0xF7, raw[:]); err != nil {
		return raw, fmt.Errorf("read data: %w", err)
	}
	return raw, nil
}

// Halt puts the chip in sleep mode (it is already there between forced
// measurements unless one was interrupted).
func (d *Dev) Halt() error {
	if !d.sess.Ready() {
		return nil
	}
	if err := d.writeRegs(0xF4, d.osrs<<5|d.osrs<<2); err != nil {
		return fmt.Errorf("%s: halt: %w", d, err)
	}
	return nil
}
