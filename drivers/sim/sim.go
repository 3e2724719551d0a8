package sim

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
	"github.com/edgegw/edgegw/drivers/reading"
)

func init() { drivers.MustRegister(drivers.Driver{Kind: "sim", Factory: New}) }

// Dev is a simulated device.
type Dev struct {
	name      string
	model     string
	seed      int64
	failEvery int
	signals   []signal
	now       func() time.Time
	tracePath string   // options.trace; opened on the first read
	trace     *os.File // nil until then
	polls     int
}

var _ drivers.Sensor = (*Dev)(nil)
var _ drivers.Describer = (*Dev)(nil)

// New builds a simulated device from its configuration. Model defaults to
// "airquality".
func New(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	d := &Dev{name: dev.Name, model: dev.Model, now: deps.Now}
	if d.model == "" {
		d.model = "airquality"
	}
	var ok bool
	if d.signals, ok = models[d.model]; !ok {
		return nil, fmt.Errorf("model: %q is not a sim model (want one of %v)", d.model, Models())
	}
	if d.now == nil {
		d.now = time.Now
	}
	for k, v := range dev.Options {
		var err error
		switch k {
		case "seed":
			d.seed, err = option.ToInt(v)
		case "fail_every":
			var n int64
			n, err = option.ToInt(v)
			if err == nil && n < 0 {
				err = fmt.Errorf("%d is negative", n)
			}
			d.failEvery = int(n)
		case "trace":
			path, isString := v.(string)
			if !isString || path == "" {
				err = fmt.Errorf("%v is not a file path", v)
				break
			}
			d.tracePath = path
		default:
			err = fmt.Errorf("unknown option (want seed, fail_every or trace)")
		}
		if err != nil {
			return nil, fmt.Errorf("options.%s: %w", k, err)
		}
	}
	return d, nil
}

// String names the instance.
func (d *Dev) String() string { return "sim@" + d.name }

// Channels declares the model's channels.
func (d *Dev) Channels() []reading.Channel {
	out := make([]reading.Channel, len(d.signals))
	for i, s := range d.signals {
		out[i] = s.Channel
	}
	return out
}

// Read produces one reading per channel at the current time, truncated to
// the millisecond.
func (d *Dev) Read(ctx context.Context) ([]reading.Reading, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	d.polls++
	if d.failEvery > 0 && d.polls%d.failEvery == 0 {
		return nil, fmt.Errorf("%s: simulated read error on poll %d", d, d.polls)
	}
	t := d.now().Truncate(time.Millisecond)
	out := make([]reading.Reading, len(d.signals))
	for i, s := range d.signals {
		out[i] = reading.Reading{
			Device:  d.name,
			Channel: s.Name,
			Value:   s.at(phase(d.seed, d.name, s.Name), t),
			Unit:    s.Unit,
			Time:    t,
		}
	}
	if d.tracePath != "" {
		if d.trace == nil {
			f, err := os.OpenFile(d.tracePath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				return nil, fmt.Errorf("%s: trace: %w", d, err)
			}
			d.trace = f
		}
		line := strconv.AppendInt(nil, t.UnixNano(), 10)
		line = append(line, ' ')
		line = strconv.AppendInt(line, int64(len(out)), 10)
		line = append(line, '\n')
		if _, err := d.trace.Write(line); err != nil {
			return nil, fmt.Errorf("%s: trace: %w", d, err)
		}
	}
	return out, nil
}

// Halt closes the trace file.
func (d *Dev) Halt() error {
	if d.trace == nil {
		return nil
	}
	err := d.trace.Close()
	d.trace = nil
	return err
}
