package drivers

import (
	"log/slog"
	"time"
)

// Common holds the options every sensor driver shares; each driver's Opts
// embeds it. The zero value of each field selects its default (see
// Defaults).
type Common struct {
	Device     string           // configured device name, copied into readings
	BusName    string           // bus or port name in the instance name; default the bus's String()
	StuckAfter int              // identical polls before the gateway flags stuck; 0 = off
	Warmup     time.Duration    // readings flagged WarmingUp after (re)start; 0 = the driver's default, negative = none
	Now        func() time.Time // clock; default time.Now
	Logger     *slog.Logger     // lifecycle logs; default discards
}

// Defaults fills the fields of c left at their zero value: BusName with
// bus, Now with time.Now, Logger with one that discards, and Warmup with
// warmup, the driver's default; a negative Warmup becomes 0 (none).
func (c *Common) Defaults(bus string, warmup time.Duration) {
	if c.BusName == "" {
		c.BusName = bus
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Warmup = Defaulted(c.Warmup, warmup)
}

// OptsOf returns a copy of *opts, or the zero value when opts is nil: a
// driver's New fills its defaults into its own copy, leaving the caller's
// options as they were.
func OptsOf[T any](opts *T) T {
	if opts == nil {
		var zero T
		return zero
	}
	return *opts
}

// Defaulted returns def when v is 0 and 0 when v is negative: the rule of
// option fields whose zero value selects a default and whose negative value
// asks for none.
func Defaulted[T ~int | ~int64](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
