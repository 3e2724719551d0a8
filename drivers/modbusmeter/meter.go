package modbusmeter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
	"github.com/edgegw/edgegw/drivers/reading"
)

func init() { drivers.MustRegister(drivers.Driver{Kind: "modbusmeter", Factory: factory}) }

// Opts configures a Meter. Zero values take the documented defaults.
type Opts struct {
	Name       string           // device name put in readings; default the instance name
	Port       string           // port name for messages, e.g. "/dev/ttyUSB0" or "sim:rs485-1"
	Unit       uint8            // slave id, 1..247
	Profile    *Profile         // register map (required)
	Retries    int              // extra attempts after a timeout, CRC or frame error, 0..5; default 1 (-1 means none)
	GapBudget  int              // most unneeded registers read through in one hole, 0..125; default 8 (-1 means none)
	Backoff    time.Duration    // first backoff after two failed polls in a row; default 1s
	BackoffMax time.Duration    // longest backoff; default 5m
	StuckAfter int              // identical values before the gateway flags stuck; 0 disables
	Now        func() time.Time // clock for readings and backoff; default time.Now
	Logger     *slog.Logger     // default discards
}

// Stats are a meter's counters since it was built.
type Stats struct {
	Polls        uint64        `json:"polls"`
	Skipped      uint64        `json:"skipped"`  // polls skipped while backing off
	Requests     uint64        `json:"requests"` // transactions sent, retries included
	Timeouts     uint64        `json:"timeouts"` // no or incomplete reply
	CRCErrors    uint64        `json:"crc_errors"`
	FrameErrors  uint64        `json:"frame_errors"` // valid CRC but not an answer to the request
	Exceptions   uint64        `json:"exceptions"`   // exception replies
	IOErrors     uint64        `json:"io_errors"`
	Busy         uint64        `json:"busy"`          // requests not sent: other units held the line until the poll's deadline
	Implausible  uint64        `json:"implausible"`   // replies discarded: values out of range that a second read contradicted
	Rollovers    uint64        `json:"rollovers"`     // uint32/uint64 counter wraps absorbed
	CounterBacks uint64        `json:"counter_backs"` // counters that went back (meter reset, replacement)
	LastLatency  time.Duration `json:"last_latency"`  // duration of the last successful transaction
	MaxLatency   time.Duration `json:"max_latency"`   // longest successful transaction
	LastPoll     time.Duration `json:"last_poll"`     // duration of the last poll, all transactions
	LastGood     time.Time     `json:"last_good,omitzero"`
	Failures     int           `json:"failures"` // failed polls in a row
	BackoffUntil time.Time     `json:"backoff_until,omitzero"`
	LastError    string        `json:"last_error,omitempty"`
	Line         *LineStats    `json:"line,omitempty"` // the shared line's other traffic, when the client is a Bus
}

// Meter is one energy meter on a Modbus RTU bus.
type Meter struct {
	name   string
	inst   string
	client Client
	opts   Opts
	plan   []Request
	chans  []reading.Channel
	log    *slog.Logger
	halt   func() error

	mu     sync.Mutex
	stats  Stats
	last   map[string]float64 // last raw value of counters, before unwrapping
	wraps  map[string]float64 // accumulated rollover offsets
	halted bool
}

var (
	_ drivers.Sensor    = (*Meter)(nil)
	_ drivers.Describer = (*Meter)(nil)
)

// New builds a meter reading unit over client. It does no I/O.
func New(client Client, o *Opts) (*Meter, error) {
	opts := *o
	var errs []error
	if opts.Profile == nil {
		errs = append(errs, errors.New("profile: missing"))
	}
	if opts.Unit < 1 || opts.Unit > 247 {
		errs = append(errs, fmt.Errorf("unit: %d outside 1..247", opts.Unit))
	}
	opts.Retries = drivers.Defaulted(opts.Retries, 1)
	if opts.Retries > 5 {
		errs = append(errs, fmt.Errorf("retries: %d outside 0..5", opts.Retries))
	}
	opts.GapBudget = drivers.Defaulted(opts.GapBudget, 8)
	if opts.GapBudget > MaxRegs {
		errs = append(errs, fmt.Errorf("gap_budget: %d outside 0..125", opts.GapBudget))
	}
	if opts.Backoff == 0 {
		opts.Backoff = time.Second
	}
	if opts.BackoffMax == 0 {
		opts.BackoffMax = 5 * time.Minute
	}
	if opts.Backoff < 0 || opts.BackoffMax < opts.Backoff {
		errs = append(errs, fmt.Errorf("backoff_max: %v below the first backoff %v", opts.BackoffMax, opts.Backoff))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Meter{
		client: client,
		opts:   opts,
		inst:   fmt.Sprintf("modbusmeter@%s:%d", opts.Port, opts.Unit),
		plan:   Plan(opts.Profile, opts.GapBudget, 0),
		chans:  opts.Profile.Channels(opts.StuckAfter),
		last:   map[string]float64{},
		wraps:  map[string]float64{},
	}
	m.name = opts.Name
	if m.name == "" {
		m.name = m.inst
	}
	m.log = opts.Logger.With("bus", opts.Port, "slave", opts.Unit)
	return m, nil
}

// String names the instance, e.g. "modbusmeter@/dev/ttyUSB0:1".
func (m *Meter) String() string { return m.inst }

// Channels implements drivers.Describer.
func (m *Meter) Channels() []reading.Channel { return m.chans }

// Plan returns the read requests of one poll.
func (m *Meter) Plan() []Request { return m.plan }

// Profile returns the meter's register map.
func (m *Meter) Profile() *Profile { return m.opts.Profile }

// Stats returns a copy of the meter's counters, with its line's.
func (m *Meter) Stats() Stats {
	m.mu.Lock()
	st := m.stats
	m.mu.Unlock()
	if b, ok := m.client.(*Bus); ok {
		ls := b.LineStats()
		st.Line = &ls
	}
	return st
}

// DriverStats implements drivers.StatsReporter.
func (m *Meter) DriverStats() any { return m.Stats() }

// Halt releases the meter's share of the bus; further reads fail.
func (m *Meter) Halt() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.halted {
		return nil
	}
	m.halted = true
	if m.halt != nil {
		return m.halt()
	}
	return nil
}

// Read polls the meter once: one transaction per planned request, each
// retried on timeout, CRC and frame errors, and read again when a value is
// out of its plausible range (see transact). A failing meter is backed off
// exponentially; while it is, Read returns an error wrapping ErrBackoff
// without touching the bus. A poll that failed only because other units
// held the line (ErrLineBusy) does not count towards the backoff.
func (m *Meter) Read(ctx context.Context) ([]reading.Reading, error) {
	m.mu.Lock()
	if m.halted {
		m.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", m, ErrClosed)
	}
	m.stats.Polls++
	now := m.opts.Now()
	if now.Before(m.stats.BackoffUntil) {
		m.stats.Skipped++
		err := fmt.Errorf("%s: %w after %d failed polls until %s: %s", m, ErrBackoff, m.stats.Failures,
			m.stats.BackoffUntil.Format(time.RFC3339), m.stats.LastError)
		m.mu.Unlock()
		return nil, err
	}
	m.mu.Unlock()
	start := time.Now()
	values := make([]float64, len(m.opts.Profile.Points))
	ln := &line{client: m.client}
	var err error
	for _, r := range m.plan {
		if err = m.transact(ctx, ln, r, values); err != nil {
			break
		}
	}
	ln.yield()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats.LastPoll = time.Since(start)
	if errors.Is(err, ErrLineBusy) {
		return nil, err
	}
	if err != nil {
		m.fail(now, err)
		return nil, err
	}
	if m.stats.Failures > 0 {
		m.log.Info("meter answers again")
	}
	m.stats.Failures, m.stats.BackoffUntil, m.stats.LastError = 0, time.Time{}, ""
	t := m.opts.Now().Truncate(time.Millisecond)
	m.stats.LastGood = t
	out := make([]reading.Reading, len(values))
	for i, pt := range m.opts.Profile.Points {
		out[i] = reading.Reading{Device: m.name, Channel: pt.Name, Value: values[i], Unit: pt.Unit, Time: t}
		if pt.Counter {
			out[i].Value, out[i].Flags = m.counter(pt, values[i])
		}
	}
	return out, nil
}

// fail records a failed poll and schedules the backoff: none after the
// first failure, then Backoff, doubling up to BackoffMax.
func (m *Meter) fail(now time.Time, err error) {
	m.stats.Failures++
	m.stats.LastError = err.Error()
	if m.stats.Failures < 2 {
		return
	}
	d := m.opts.Backoff << min(m.stats.Failures-2, 30)
	if d > m.opts.BackoffMax || d <= 0 {
		d = m.opts.BackoffMax
	}
	m.stats.BackoffUntil = now.Add(d)
	if m.stats.Failures == 2 {
		m.log.Warn("meter failing, backing off", "err", err)
	}
}

// line is a meter's use of its client during one poll. When the client is
// a Holder the poll holds the line across its requests while they succeed,
// so that its requests are not interleaved with other units' transactions,
// and yields it after a failure, so that the other units go before its
// retry.
type line struct {
	client  Client
	held    Client
	release func()
}

// get returns the client to run the next request on, holding the line.
func (l *line) get(ctx context.Context) (Client, error) {
	h, ok := l.client.(Holder)
	if !ok {
		return l.client, nil
	}
	if l.held == nil {
		c, release, err := h.Hold(ctx)
		if err != nil {
			return nil, err
		}
		l.held, l.release = c, release
	}
	return l.held, nil
}

// yield gives the line up.
func (l *line) yield() {
	if l.held != nil {
		l.release()
		l.held, l.release = nil, nil
	}
}

// transact reads one planned request and decodes its points into values.
// A reply with a value outside its point's plausible range (or not a
// number) is read again, once, whatever the retries: when the second reply
// is plausible it is used and the first discarded as a reply to another
// request (Implausible); when the same points are out of range again the
// meter means it, and the values are used (the gateway flags them); when
// other points are, the request fails with ErrFrame.
func (m *Meter) transact(ctx context.Context, ln *line, r Request, values []float64) error {
	regs, err := m.request(ctx, ln, r)
	if err != nil {
		return err
	}
	bad := m.decode(r, regs, values)
	if len(bad) == 0 {
		return nil
	}
	m.log.Debug("implausible reply, reading again", "addr", r.Addr)
	if regs, err = m.request(ctx, ln, r); err != nil {
		return err
	}
	again := m.decode(r, regs, values)
	if len(again) > 0 && slices.Equal(names(bad), names(again)) {
		return nil
	}
	m.mu.Lock()
	m.stats.Implausible++
	m.mu.Unlock()
	if len(again) == 0 {
		return nil
	}
	return m.wrap(r, fmt.Errorf("%w: implausible values %s, then %s", ErrFrame, strings.Join(bad, ", "), strings.Join(again, ", ")))
}

// decode decodes the points of request r from its registers into values and
// describes those outside their plausible range, or not numbers.
func (m *Meter) decode(r Request, regs []uint16, values []float64) []string {
	var bad []string
	for _, i := range r.Points {
		pt := m.opts.Profile.Points[i]
		off := int(pt.Addr - r.Addr)
		v, _ := pt.Decode(regs[off : off+pt.Type.Words()])
		values[i] = v
		if math.IsNaN(v) || math.IsInf(v, 0) || (pt.Max > pt.Min && (v < pt.Min || v > pt.Max)) {
			bad = append(bad, fmt.Sprintf("%s=%g %s (range %g..%g)", pt.Name, v, pt.Unit, pt.Min, pt.Max))
		}
	}
	return bad
}

// names returns the point names of decode's descriptions.
func names(bad []string) []string {
	out := make([]string, len(bad))
	for i, b := range bad {
		out[i], _, _ = strings.Cut(b, "=")
	}
	return out
}

// request runs one request with retries and accounts for it. Retries stop
// when ctx ends; the error is then the last attempt's, not the context's.
func (m *Meter) request(ctx context.Context, ln *line, r Request) ([]uint16, error) {
	var err error
	for attempt := 0; attempt <= m.opts.Retries; attempt++ {
		if attempt > 0 && ctx.Err() != nil {
			break
		}
		start := time.Now()
		var regs []uint16
		var c Client
		if c, err = ln.get(ctx); err == nil {
			regs, err = c.ReadRegisters(ctx, m.opts.Unit, r.FC, r.Addr, r.Count)
		}
		lat := time.Since(start)
		m.mu.Lock()
		if !errors.Is(err, ErrLineBusy) && !errors.Is(err, errNotSent) && !errors.Is(err, ErrClosed) && !errors.Is(err, context.Canceled) {
			m.stats.Requests++ // it went on the line
		}
		if err == nil {
			m.stats.LastLatency = lat
			m.stats.MaxLatency = max(m.stats.MaxLatency, lat)
			m.mu.Unlock()
			return regs, nil
		}
		var ex *ExceptionError
		stop := false
		switch {
		case errors.Is(err, ErrLineBusy):
			m.stats.Busy++
			stop = true
		case errors.As(err, &ex):
			m.stats.Exceptions++
			stop = ex.Permanent()
		case errors.Is(err, ErrTimeout):
			m.stats.Timeouts++
		case errors.Is(err, ErrCRC):
			m.stats.CRCErrors++
		case errors.Is(err, ErrFrame):
			m.stats.FrameErrors++
		case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled):
			stop = true
		default:
			m.stats.IOErrors++
		}
		m.mu.Unlock()
		if stop {
			break
		}
		ln.yield()
		m.log.Debug("modbus transaction failed", "addr", r.Addr, "err", err)
	}
	return nil, m.wrap(r, err)
}

// wrap names port, unit, function and address in a transaction error.
func (m *Meter) wrap(r Request, err error) error {
	fn := "read input registers"
	if r.FC == ReadHolding {
		fn = "read holding registers"
	}
	return fmt.Errorf("%s: %s (fc %d) 0x%04X+%d on %s unit %d: %w", m, fn, r.FC, r.Addr, r.Count, m.opts.Port, m.opts.Unit, err)
}

// counter unwraps integer counter rollover and flags a counter going back.
// A raw value that drops from the top quarter of the type's range to the
// bottom quarter is a rollover: the range is added to every later value,
// so the reported counter keeps rising. Any other drop (meter reset or
// replaced, tampering) is reported as read and flagged CounterWentBack;
// the gateway flags it too.
func (m *Meter) counter(pt Point, v float64) (float64, reading.Flags) {
	var span float64
	switch pt.Type {
	case Uint16:
		span = (1 << 16) * pt.Scale
	case Uint32:
		span = (1 << 32) * pt.Scale
	}
	prev, seen := m.last[pt.Name]
	m.last[pt.Name] = v
	if !seen || v >= prev {
		return v + m.wraps[pt.Name], 0
	}
	if span > 0 && prev >= 0.75*span && v < 0.25*span {
		m.wraps[pt.Name] += span
		m.stats.Rollovers++
		return v + m.wraps[pt.Name], 0
	}
	m.stats.CounterBacks++
	m.wraps[pt.Name] = 0
	return v, reading.CounterWentBack
}

// factory builds a Meter from the gateway configuration.
func factory(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	o, line, port, err := parseOptions(dev.Options)
	if err != nil {
		return nil, err
	}
	o.Name, o.Now, o.Logger, o.Port = dev.Name, deps.Now, deps.Logger, port
	if deps.Buses == nil {
		return nil, errors.New("options.port: no buses available")
	}
	if _, err := New(nil, &o); err != nil { // validate before opening the port
		return nil, err
	}
	path, err := deps.Buses.Serial(port)
	if err != nil {
		return nil, fmt.Errorf("options.port: %w", err)
	}
	bus, err := OpenBus(path, line)
	if err != nil {
		return nil, fmt.Errorf("options.port: %w", err)
	}
	m, err := New(bus, &o)
	if err != nil {
		return nil, errors.Join(err, bus.Close())
	}
	m.halt = bus.Close
	m.log.Info("meter configured", "addr", path)
	return m, nil
}

// parseOptions decodes and checks the options mapping; errors name the
// option as options.<field>.
func parseOptions(opts map[string]any) (Opts, LineConfig, string, error) {
	var (
		o    Opts
		line LineConfig
		port string
		errs []error
	)
	bad := func(k string, err error) { errs = append(errs, fmt.Errorf("options.%s: %w", k, err)) }
	// num and dur read the value v of option k, recording an error when it
	// is bad; a duration must also pass check.
	num := func(k string, v any, lo, hi int64) int {
		n, err := integer(v, lo, hi)
		if err != nil {
			bad(k, err)
		}
		return int(n)
	}
	dur := func(k string, v any, check func(time.Duration) error) time.Duration {
		d, err := duration(v)
		if err == nil {
			err = check(d)
		}
		if err != nil {
			bad(k, err)
		}
		return d
	}
	for k, v := range opts {
		switch k {
		case "port":
			s, ok := v.(string)
			if !ok || s == "" {
				bad(k, fmt.Errorf("%v is not a port name", v))
			}
			port = s
		case "baud":
			line.Baud = num(k, v, 300, 230400)
		case "parity":
			s, _ := v.(string)
			s = strings.ToUpper(s)
			if s != "N" && s != "E" && s != "O" {
				bad(k, fmt.Errorf("%v is not N, E or O", v))
			}
			line.Parity = s
		case "stop_bits":
			line.StopBits = num(k, v, 1, 2)
		case "unit":
			o.Unit = uint8(num(k, v, 1, 247))
		case "profile":
			s, _ := v.(string)
			p, err := LoadProfile(s)
			if err != nil {
				bad(k, err)
			}
			o.Profile = p
		case "timeout":
			line.Timeout = dur(k, v, func(d time.Duration) error {
				if d < 10*time.Millisecond || d > 10*time.Second {
					return fmt.Errorf("%v outside 10ms..10s", d)
				}
				return nil
			})
		case "retries":
			o.Retries = num(k, v, 0, 5)
			if o.Retries == 0 {
				o.Retries = -1
			}
		case "gap_budget":
			o.GapBudget = num(k, v, 0, MaxRegs)
			if o.GapBudget == 0 {
				o.GapBudget = -1
			}
		case "backoff_max":
			o.BackoffMax = dur(k, v, func(d time.Duration) error {
				if d < time.Second {
					return fmt.Errorf("%v is below 1s", d)
				}
				return nil
			})
		case "stuck_after":
			o.StuckAfter = num(k, v, 0, 1000000)
		default:
			bad(k, errors.New("unknown option (want port, baud, parity, stop_bits, unit, profile, timeout, retries, gap_budget, backoff_max or stuck_after)"))
		}
	}
	if port == "" && opts["port"] == nil {
		errs = append(errs, errors.New("options.port: missing"))
	}
	if o.Unit == 0 && opts["unit"] == nil {
		errs = append(errs, errors.New("options.unit: missing"))
	}
	if o.Profile == nil && opts["profile"] == nil {
		errs = append(errs, errors.New("options.profile: missing"))
	}
	if err := line.normalise(); err != nil && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("options.%w", err))
	}
	return o, line, port, errors.Join(errs...)
}

// integer accepts the integer forms a YAML decoder produces (option.ToInt,
// but not strings), within [lo, hi].
func integer(v any, lo, hi int64) (int64, error) {
	if _, isStr := v.(string); isStr {
		return 0, fmt.Errorf("%v is not an integer", v)
	}
	n, err := option.ToInt(v)
	if err != nil {
		return 0, err
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d outside %d..%d", n, lo, hi)
	}
	return n, nil
}

// duration accepts "500ms"-style strings.
func duration(v any) (time.Duration, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("%v is not a duration such as 500ms", v)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 500ms", s)
	}
	return d, nil
}
