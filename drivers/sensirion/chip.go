package sensirion

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/i2c"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/reading"
)

// Chip is what the drivers of Sensirion's measuring sensors on I²C share:
// commands of CRC-checked words, the chip initialised on the first Read and
// again after it was lost, a bounded wait for its next sample, readings
// flagged during the warm-up, and halting. Config holds what sets one chip
// apart.
type Chip struct {
	cfg  Config
	dev  i2c.Dev
	name string
	sess drivers.Session // initialisation and warm-up
	last time.Time       // when the last sample was read
}

// Config describes a Sensirion chip to NewChip, with the device's options.
type Config struct {
	Model         string                                                // driver kind, the start of the instance name
	Addr          uint16                                                // the chip's I²C address
	Common        drivers.Common                                        // the device's options; NewChip fills in their defaults
	DefaultWarmup time.Duration                                         // the chip's warm-up when Common.Warmup is 0
	Sleep         func(ctx context.Context, d time.Duration) error      // waits; default drivers.Sleep
	Period        time.Duration                                         // from one sample to the next
	ReadyTimeout  time.Duration                                         // bound on data-ready polling
	Channels      []reading.Channel                                     // in the order of Measure's values
	Start         func(ctx context.Context, c *Chip) error              // initialises the chip and starts measurement
	Ready         func(ctx context.Context, c *Chip) (bool, error)      // reports whether a sample is ready
	Measure       func(ctx context.Context, c *Chip) ([]float64, error) // reads the ready sample, a value per channel
	Stop          uint16                                                // the command that stops measurement
}

// NewChip returns the chip cfg describes on bus. It does no I/O: the chip
// is initialised on the first Read.
func NewChip(bus i2c.Bus, cfg Config) *Chip {
	cfg.Common.Defaults(bus.String(), cfg.DefaultWarmup)
	if cfg.Sleep == nil {
		cfg.Sleep = drivers.Sleep
	}
	return &Chip{
		cfg:  cfg,
		dev:  i2c.Dev{Bus: bus, Addr: cfg.Addr},
		name: fmt.Sprintf("%s@%s:0x%02x", cfg.Model, cfg.Common.BusName, cfg.Addr),
		sess: drivers.Session{Warmup: cfg.Common.Warmup},
	}
}

// String returns the instance name, e.g. "scd4x@/dev/i2c-1:0x62".
func (c *Chip) String() string { return c.name }

// Channels returns the chip's channels, flagged stuck after the device's
// stuck_after identical polls.
func (c *Chip) Channels() []reading.Channel {
	return drivers.StuckAfter(c.cfg.Channels, c.cfg.Common.StuckAfter)
}

// Command runs one command on the chip: it writes the command and its
// argument words, waits the command's execution time exec, and reads n
// reply words, checking each word's CRC.
func (c *Chip) Command(ctx context.Context, cmd uint16, args []uint16, exec time.Duration, n int) ([]uint16, error) {
	if err := c.dev.Tx(Command(cmd, args...), nil); err != nil {
		return nil, fmt.Errorf("command 0x%04x: %w", cmd, err)
	}
	if exec > 0 {
		if err := c.cfg.Sleep(ctx, exec); err != nil {
			return nil, err
		}
	}
	if n == 0 {
		return nil, nil
	}
	buf := make([]byte, 3*n)
	if err := c.dev.Tx(nil, buf); err != nil {
		return nil, fmt.Errorf("command 0x%04x: read reply: %w", cmd, err)
	}
	ws, err := Words(buf)
	if err != nil {
		return nil, fmt.Errorf("command 0x%04x: %w", cmd, err)
	}
	return ws, nil
}

// Read waits (bounded) for the chip's next sample and returns a reading per
// channel. It initialises the chip first when needed; a CRC error leaves
// the chip running, any other error makes the next Read initialise it
// again.
func (c *Chip) Read(ctx context.Context) ([]reading.Reading, error) {
	return c.sess.Poll(ctx, c, c.cfg.Common.Now, c.start, c.started, c.read, ErrCRC)
}

// start initialises the chip and starts measurement.
func (c *Chip) start(ctx context.Context) error { return c.cfg.Start(ctx, c) }

// started forgets the last sample of the previous measurement.
func (c *Chip) started() {
	c.last = time.Time{}
	c.cfg.Common.Logger.Info("device initialised", "bus", c.cfg.Common.BusName, "addr", fmt.Sprintf("0x%02x", c.cfg.Addr))
}

// read waits for the next sample and reads it.
func (c *Chip) read(ctx context.Context) ([]reading.Reading, error) {
	if err := c.waitReady(ctx); err != nil {
		return nil, err
	}
	vals, err := c.cfg.Measure(ctx, c)
	if err != nil {
		return nil, err
	}
	now := c.cfg.Common.Now()
	c.last = now
	return c.sess.Readings(c.cfg.Common.Device, c.cfg.Channels, vals, now), nil
}

// waitReady waits, bounded by ReadyTimeout, for the chip to have a sample:
// it asks Ready every 100 ms. It returns drivers.ErrNoData instead of
// waiting when the first sample of the measurement is not due yet, or when
// the timeout passes and the last sample is recent: the next poll gets it.
func (c *Chip) waitReady(ctx context.Context) error {
	now, period, timeout := c.cfg.Common.Now, c.cfg.Period, c.cfg.ReadyTimeout
	deadline := now().Add(timeout)
	for {
		ok, err := c.cfg.Ready(ctx, c)
		if err != nil || ok {
			return err
		}
		t := now()
		if c.last.IsZero() && t.Sub(c.sess.Started()) < period+time.Second {
			// The first sample of a measurement comes one period after
			// its start: no reason to hold the poll until then.
			return fmt.Errorf("first sample due %s after start: %w", period, drivers.ErrNoData)
		}
		if !t.Before(deadline) {
			if !c.last.IsZero() && t.Sub(c.last) < 2*period {
				return fmt.Errorf("no new sample yet: %w", drivers.ErrNoData)
			}
			return fmt.Errorf("no sample ready within %s", timeout)
		}
		if err := c.cfg.Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// Halt stops measurement if the chip was initialised.
func (c *Chip) Halt() error {
	if !c.sess.Ready() {
		return nil
	}
	c.sess.Reset()
	if err := c.dev.Tx(Command(c.cfg.Stop), nil); err != nil {
		return fmt.Errorf("%s: halt: %w", c, err)
	}
	return nil
}
