package scd4x

import (
	"context"
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
type Dev struct{ chip *sensirion.Chip }

var (
	_ drivers.Sensor    = (*Dev)(nil)
	_ drivers.Describer = (*Dev)(nil)
)

// New returns an SCD4x on bus. It does no I/O: the chip is initialised on
// the first Read and again after it was lost.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	o := drivers.OptsOf(opts)
	period, start := 5*time.Second, uint16(cmdStartPeriodic)
	if o.LowPower {
		period, start = 30*time.Second, cmdStartLowPower
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = period + time.Second
	}
	return &Dev{sensirion.NewChip(bus, sensirion.Config{
		Model: "scd4x", Addr: Addr, Common: o.Common, DefaultWarmup: defaultWarmup, Sleep: o.Sleep,
		Period: period, ReadyTimeout: o.ReadyTimeout, Channels: channels,
		Start: func(ctx context.Context, c *sensirion.Chip) error { return initialise(ctx, c, start) },
		Ready: ready, Measure: measure, Stop: cmdStopPeriodic,
	})}, nil
}

// String returns the instance name, e.g. "scd4x@/dev/i2c-1:0x62".
func (d *Dev) String() string { return d.chip.String() }

// Channels declares co2 (ppm, 0…40000), t (°C, −10…60) and rh (%RH, 0…100),
// the SCD4x's specified ranges.
func (d *Dev) Channels() []reading.Channel { return d.chip.Channels() }

// channels are the channels of every SCD4x (see Channels).
var channels = []reading.Channel{
	{Name: "co2", Unit: reading.PPM, Min: 0, Max: 40000},
	{Name: "t", Unit: reading.Celsius, Min: -10, Max: 60},
	{Name: "rh", Unit: reading.RelHumid, Min: 0, Max: 100},
}

// initialise stops any running measurement, checks the chip answers and
// starts periodic measurement with the command start.
func initialise(ctx context.Context, c *sensirion.Chip, start uint16) error {
	if _, err := c.Command(ctx, cmdStopPeriodic, nil, 500*time.Millisecond, 0); err != nil {
		return err
	}
	if _, err := c.Command(ctx, cmdSerialNumber, nil, time.Millisecond, 3); err != nil {
		return err
	}
	_, err := c.Command(ctx, start, nil, 0, 0)
	return err
}

// Read waits (bounded) for the next sample and returns co2, t and rh.
func (d *Dev) Read(ctx context.Context) ([]reading.Reading, error) { return d.chip.Read(ctx) }

// ready reports whether a sample is ready (get_data_ready_status).
func ready(ctx context.Context, c *sensirion.Chip) (bool, error) {
	ws, err := c.Command(ctx, cmdDataReady, nil, time.Millisecond, 1)
	return err == nil && DataReady(ws[0]), err
}

// measure reads the ready sample: co2, t and rh.
func measure(ctx context.Context, c *sensirion.Chip) ([]float64, error) {
	ws, err := c.Command(ctx, cmdReadMeasurement, nil, time.Millisecond, 3)
	if err != nil {
		return nil, err
	}
	co2, t, rh := Convert(ws[0], ws[1], ws[2])
	return []float64{co2, t, rh}, nil
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
func (d *Dev) Halt() error { return d.chip.Halt() }
