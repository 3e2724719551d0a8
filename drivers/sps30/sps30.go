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
type Dev struct{ chip *sensirion.Chip }

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
	o := drivers.OptsOf(opts)
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 1500 * time.Millisecond
	}
	return &Dev{sensirion.NewChip(bus, sensirion.Config{
		Model: "sps30", Addr: Addr, Common: o.Common, DefaultWarmup: defaultWarmup, Sleep: o.Sleep,
		Period: time.Second, ReadyTimeout: o.ReadyTimeout, Channels: channels,
		Start: initialise, Ready: ready, Measure: measure, Stop: cmdStop,
	})}, nil
}

// String returns the instance name, e.g. "sps30@/dev/i2c-1:0x69".
func (d *Dev) String() string { return d.chip.String() }

// Channels declares the mass concentrations pm1, pm25, pm4, pm10 (ug/m3,
// 0…1000, the specified range), the number concentrations nc05…nc10 (/cm3,
// 0…3000) and the typical particle size tps (um, 0…10).
func (d *Dev) Channels() []reading.Channel { return d.chip.Channels() }

// initialise resets the chip and starts measurement in float format.
func initialise(ctx context.Context, c *sensirion.Chip) error {
	if _, err := c.Command(ctx, cmdReset, nil, 100*time.Millisecond, 0); err != nil {
		return err
	}
	_, err := c.Command(ctx, cmdStart, []uint16{formatFloat}, 20*time.Millisecond, 0)
	return err
}

// Read waits (bounded) for the next sample and returns the ten values.
func (d *Dev) Read(ctx context.Context) ([]reading.Reading, error) { return d.chip.Read(ctx) }

// ready reports whether a sample is ready (read_data_ready_flag).
func ready(ctx context.Context, c *sensirion.Chip) (bool, error) {
	ws, err := c.Command(ctx, cmdDataReady, nil, 0, 1)
	return err == nil && ws[0] == 1, err
}

// measure reads the ready sample: the ten values in the order of channels.
func measure(ctx context.Context, c *sensirion.Chip) ([]float64, error) {
	ws, err := c.Command(ctx, cmdRead, nil, 0, 20)
	if err != nil {
		return nil, err
	}
	vals, err := Decode(ws)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(vals))
	for i, v := range vals {
		out[i] = float64(v)
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
func (d *Dev) Halt() error { return d.chip.Halt() }
