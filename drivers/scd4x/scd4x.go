package scd4x

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/sensirion"
)

// Addr is the SCD4x's only I²C address.
const Addr = 0x62

// Commands (datasheet section 3.5–3.10).
const (
	cmdStartPeriodic   = 0x21B1
	cmdStartLowPower   = 0x21AC
	cmdReadMeasurement = 0xEC05
	cmdStopPeriodic    = 0x3F86
	cmdDataReady       = 0xE4B8
	cmdSerialNumber    = 0x3682
)

// defaultWarmup is how long readings are flagged WarmingUp after (re)start
// unless Opts.Warmup says otherwise.
const defaultWarmup = 60 * time.Second

// Opts configures a Dev. The zero value of each field selects its default;
// Common.Warmup's is 60 s.
type Opts struct {
	drivers.Common
	LowPower     bool                                             // sample every 30 s instead of 5 s
	ReadyTimeout time.Duration                                    // bound on data-ready polling; default one sampling period + 1 s
	Sleep        func(ctx context.Context, d time.Duration) error // waits; default a timer honouring ctx
}

// Dev is an SCD40/SCD41.
type Dev struct {
	opts   Opts
	dev    i2c.Dev
	name   string
	period time.Duration
	sess   drivers.Session // initialisation and warm-up
	last   time.Time       // when the last sample was read
}

var (
	_ drivers.Sensor    = (*Dev)(nil)
	_ drivers.Describer = (*Dev)(nil)
)

// New returns an SCD4x on bus. It does no I/O: the chip is initialised on
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
	d := &Dev{opts: o, dev: i2c.Dev{Bus: bus, Addr: Addr}, name: fmt.Sprintf("scd4x@%s:0x%02x", o.BusName, Addr), period: 5 * time.Second}
	if o.LowPower {
		d.period = 30 * time.Second
	}
	d.sess.Warmup = d.opts.Warmup
	if d.opts.ReadyTimeout == 0 {
		d.opts.ReadyTimeout = d.period + time.Second
	}
	return d, nil
}

// String returns the instance name, e.g. "scd4x@/dev/i2c-1:0x62".
func (d *Dev) String() string { return d.name }

// Channels declares co2 (ppm, 0…40000), t (°C, −10…60) and rh (%RH, 0…100),
// the SCD4x's specified ranges.
func (d *Dev) Channels() []reading.Channel { return drivers.StuckAfter(channels, d.opts.StuckAfter) }

// channels are the channels of every SCD4x (see Channels).
var channels = []reading.Channel{
	{Name: "co2", Unit: reading.PPM, Min: 0, Max: 40000},
	{Name: "t", Unit: reading.Celsius, Min: -10, Max: 60},
	{Name: "rh", Unit: reading.RelHumid, Min: 0, Max: 100},
}

// command writes cmd, waits its execution time and reads n reply words.
func (d *Dev) command(ctx context.Context, cmd uint16, exec time.Duration, n int) ([]uint16, error) {
	return sensirion.Transact(ctx, &d.dev, d.opts.Sleep, cmd, nil, exec, n)
}

// init stops any running measurement, checks the chip answers and starts
// periodic measurement.
func (d *Dev) init(ctx context.Context) error {
	if _, err := d.command(ctx, cmdStopPeriodic, 500*time.Millisecond, 0); err != nil {
		return err
	}
	if _, err := d.command(ctx, cmdSerialNumber, time.Millisecond, 3); err != nil {
		return err
	}
	start := uint16(cmdStartPeriodic)
	if d.opts.LowPower {
		start = cmdStartLowPower
	}
	_, err := d.command(ctx, start, 0, 0)
	return err
}

// Read waits (bounded) for the next sample and returns co2, t and rh.
func (d *Dev) Read(ctx context.Context) ([]reading.Reading, error) {
	return d.sess.Poll(ctx, d, d.opts.Now, d.init, d.started, d.read, sensirion.ErrCRC)
}

// started forgets the last sample of the previous measurement.
func (d *Dev) started() {
	d.last = time.Time{}
	d.opts.Logger.Info("device initialised", "bus", d.opts.BusName, "addr", "0x62")
}

func (d *Dev) read(ctx context.Context) ([]reading.Reading, error) {
	ready := func(ctx context.Context) (bool, error) {
		ws, err := d.command(ctx, cmdDataReady, time.Millisecond, 1)
		return err == nil && DataReady(ws[0]), err
	}
	if err := sensirion.WaitReady(ctx, ready, d.opts.Now, d.opts.Sleep, d.sess.Started(), d.last, d.period, d.opts.ReadyTimeout); err != nil {
		return nil, err
	}
	ws, err := d.command(ctx, cmdReadMeasurement, time.Millisecond, 3)
	if err != nil {
		return nil, err
	}
	now := d.opts.Now()
	d.last = now
	co2, t, rh := Convert(ws[0], ws[1], ws[2])
	flags := d.sess.Flags(now)
	ts := now.Truncate(time.Millisecond)
	return []reading.Reading{
		{Device: d.opts.Device, Channel: "co2", Value: co2, Unit: reading.PPM, Time: ts, Flags: flags},
		{Device: d.opts.Device, Channel: "t", Value: t, Unit: reading.Celsius, Time: ts, Flags: flags},
		{Device: d.opts.Device, Channel: "rh", Value: rh, Unit: reading.RelHumid, Time: ts, Flags: flags},
	}, nil
}

// DataReady decodes the word of get_data_ready_status: a sample is ready
// unless its low 11 bits are all zero (the upper 5 bits are undefined).
func DataReady(status uint16) bool { return status&0x07FF != 0 }

// Convert turns the raw words of read_measurement into CO₂ (ppm),
// temperature (°C, −45 + 175·w/65535) and relative humidity (%, 100·w/65535).
func Convert(co2, t, rh uint16) (ppm, celsius, percent float64) {
	return float64(co2), -45 + 175*float64(t)/65535, 100 * float64(rh) / 65535
}

// Halt stops periodic measurement.
func (d *Dev) Halt() error {
	if !d.sess.Ready() {
		return nil
	}
	d.sess.Reset()
	if err := d.dev.Tx(sensirion.Command(cmdStopPeriodic), nil); err != nil {
		return fmt.Errorf("%s: halt: %w", d, err)
	}
	return nil
}
