package sps30

import (
	"context"
	"fmt"
	"math"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/sensirion"
)

// Addr is the SPS30's only I²C address.
const Addr = 0x69

// Units the SPS30 adds to those of package drivers.
const (
	PerCm3     reading.Unit = "/cm3" // number concentration
	Micrometre reading.Unit = "um"   // typical particle size
)

// Commands (datasheet section 6.3).
const (
	cmdStart     = 0x0010
	cmdStop      = 0x0104
	cmdDataReady = 0x0202
	cmdRead      = 0x0300
	cmdReset     = 0xD304
	formatFloat  = 0x0300
)

// defaultWarmup is how long readings are flagged WarmingUp after (re)start
// unless Opts.Warmup says otherwise.
const defaultWarmup = 30 * time.Second

// Opts configures a Dev. The zero value of each field selects its default;
// Common.Warmup's is 30 s.
type Opts struct {
	drivers.Common
	ReadyTimeout time.Duration                                    // bound on data-ready polling; default 1.5 s
	Sleep        func(ctx context.Context, d time.Duration) error // waits; default a timer honouring ctx
}

// Dev is an SPS30.
type Dev struct {
	opts Opts
	dev  i2c.Dev
	name string
	sess drivers.Session // initialisation and warm-up
	last time.Time
}

var (
	_ drivers.Sensor    = (*Dev)(nil)
	_ drivers.Describer = (*Dev)(nil)
)

// channels in the order of the measured-values frame.
var channels = []reading.Channel{
	{Name: "pm1", Unit: reading.MicrogramM, Min: 0, Max: 1000},
	{Name: "pm25", Unit: reading.MicrogramM, Min: 0, Max: 1000},
	{Name: "pm4", Unit: reading.MicrogramM, Min: 0, Max: 1000},
	{Name: "pm10", Unit: reading.MicrogramM, Min: 0, Max: 1000},
	{Name: "nc05", Unit: PerCm3, Min: 0, Max: 3000},
	{Name: "nc1", Unit: PerCm3, Min: 0, Max: 3000},
	{Name: "nc25", Unit: PerCm3, Min: 0, Max: 3000},
	{Name: "nc4", Unit: PerCm3, Min: 0, Max: 3000},
	{Name: "nc10", Unit: PerCm3, Min: 0, Max: 3000},
	{Name: "tps", Unit: Micrometre, Min: 0, Max: 10},
}

// New returns an SPS30 on bus. It does no I/O: the chip is initialised on
// the first Read and again after it was lost.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	var o Opts
	if opts != nil {
		o = *opts
	}
	o.Defaults(bus.String(), defaultWarmup)
	if o.Sleep == nil {
		o.Sleep = drivers.Sleep
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 1500 * time.Millisecond
	}
	return &Dev{opts: o, dev: i2c.Dev{Bus: bus, Addr: Addr}, name: fmt.Sprintf("sps30@%s:0x%02x", o.BusName, Addr), sess: drivers.Session{Warmup: o.Warmup}}, nil
}

// String returns the instance name, e.g. "sps30@/dev/i2c-1:0x69".
func (d *Dev) String() string { return d.name }

// Channels declares the mass concentrations pm1, pm25, pm4, pm10 (ug/m3,
// 0…1000, the specified range), the number concentrations nc05…nc10 (/cm3,
// 0…3000) and the typical particle size tps (um, 0…10).
func (d *Dev) Channels() []reading.Channel { return drivers.StuckAfter(channels, d.opts.StuckAfter) }

// command writes cmd with args, waits exec and reads n reply words.
func (d *Dev) command(ctx context.Context, cmd uint16, args []uint16, exec time.Duration, n int) ([]uint16, error) {
	return sensirion.Transact(ctx, &d.dev, d.opts.Sleep, cmd, args, exec, n)
}

// init resets the chip and starts measurement in float format.
func (d *Dev) init(ctx context.Context) error {
	if _, err := d.command(ctx, cmdReset, nil, 100*time.Millisecond, 0); err != nil {
		return err
	}
	_, err := d.command(ctx, cmdStart, []uint16{formatFloat}, 20*time.Millisecond, 0)
	return err
}

// Read waits (bounded) for the next sample and returns the ten values.
func (d *Dev) Read(ctx context.Context) ([]reading.Reading, error) {
	return d.sess.Poll(ctx, d, d.opts.Now, d.init, d.started, d.read, sensirion.ErrCRC)
}

// started forgets the last sample of the previous measurement.
func (d *Dev) started() {
	d.last = time.Time{}
	d.opts.Logger.Info("device initialised", "bus", d.opts.BusName, "addr", "0x69")
}

func (d *Dev) read(ctx context.Context) ([]reading.Reading, error) {
	ready := func(ctx context.Context) (bool, error) {
		ws, err := d.command(ctx, cmdDataReady, nil, 0, 1)
		return err == nil && ws[0] == 1, err
	}
	if err := sensirion.WaitReady(ctx, ready, d.opts.Now, d.opts.Sleep, d.sess.Started(), d.last, time.Second, d.opts.ReadyTimeout); err != nil {
		return nil, err
	}
	ws, err := d.command(ctx, cmdRead, nil, 0, 20)
	if err != nil {
		return nil, err
	}
	vals, err := Decode(ws)
	if err != nil {
		return nil, err
	}
	now := d.opts.Now()
	d.last = now
	flags := d.sess.Flags(now)
	ts := now.Truncate(time.Millisecond)
	out := make([]reading.Reading, len(channels))
	for i, c := range channels {
		out[i] = reading.Reading{Device: d.opts.Device, Channel: c.Name, Value: float64(vals[i]), Unit: c.Unit, Time: ts, Flags: flags}
	}
	return out, nil
}

// Decode turns the 20 words of a float-format measured-values frame into
// its ten values (big-endian IEEE-754 across word pairs). NaN and infinity
// are refused.
func Decode(ws []uint16) ([10]float32, error) {
	var v [10]float32
	if len(ws) != 20 {
		return v, fmt.Errorf("measured values: %d words, want 20", len(ws))
	}
	for i := range v {
		f := math.Float32frombits(uint32(ws[2*i])<<16 | uint32(ws[2*i+1]))
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return v, fmt.Errorf("measured values: %s is %v", channels[i].Name, f)
		}
		v[i] = f
	}
	return v, nil
}

// Halt stops measurement.
func (d *Dev) Halt() error {
	if !d.sess.Ready() {
		return nil
	}
	d.sess.Reset()
	if err := d.dev.Tx(sensirion.Command(cmdStop), nil); err != nil {
		return fmt.Errorf("%s: halt: %w", d, err)
	}
	return nil
}
