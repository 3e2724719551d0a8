package meteremu

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/goburrow/serial"

	"github.com/edgegw/edgegw/drivers/modbusmeter"
)

// Unit is one emulated meter on the bus.
type Unit struct {
	ID      uint8             // slave id, 1..247
	Profile string            // shipped profile name or profile file path
	Order   modbusmeter.Order // word order the meter is set to; "" keeps the profile's
}

// Config describes an emulated RS-485 bus.
type Config struct {
	Units []Unit
	// Baud, Parity ("N", "E", "O") and StopBits are the line setting the
	// meters listen at. Over a pseudo-terminal a request sent at another
	// setting gets no reply, as on a real line. Zero values accept any.
	Baud     int
	Parity   string
	StopBits int
	// Now is the clock the values move with; default time.Now.
	Now func() time.Time
	// Rate is how fast energy counters rise, in kWh per hour; default 36
	// (0.01 kWh a second, visible from one poll to the next).
	Rate float64
}

// DefaultConfig is the bus registered as sim:rs485-N: an Eastron SDM630 at
// unit 1, an Eastron SDM120 at unit 2 and a Selec MFM383A at unit 3, at
// 9600 8N1.
func DefaultConfig() Config {
	return Config{
		Units: []Unit{
			{ID: 1, Profile: "sdm630"},
			{ID: 2, Profile: "sdm120"},
			{ID: 3, Profile: "mfm383a"},
		},
		Baud: 9600, Parity: "N", StopBits: 1,
	}
}

// Fault is a misbehaviour injected into one unit.
type Fault struct {
	Dead      bool          // never reply
	Exception uint8         // reply with this exception code instead of data
	BadCRC    bool          // corrupt the reply's CRC
	Partial   bool          // send only the first half of the reply
	Garbage   bool          // send noise before the reply
	Delay     time.Duration // reply this late (slow meter); the bus serves other units meanwhile
	// Count is how many requests the fault applies to before it clears
	// itself; 0 keeps it until SetFault is called again.
	Count int
}

// Emulator answers Modbus RTU requests for its units. It is safe for
// concurrent use.
type Emulator struct {
	cfg   Config
	mu    sync.Mutex
	units map[uint8]*meter
}

type meter struct {
	Unit
	prof     *modbusmeter.Profile
	fault    Fault
	requests int
	origin   time.Time          // counters count from here
	base     map[string]float64 // counter value at origin
}

// New builds an emulator without any line attached; Respond and Send
// serve it in memory.
func New(cfg Config) (*Emulator, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rate == 0 {
		cfg.Rate = 36
	}
	e := &Emulator{cfg: cfg, units: map[uint8]*meter{}}
	now := cfg.Now()
	for _, u := range cfg.Units {
		if u.ID < 1 || u.ID > 247 {
			return nil, fmt.Errorf("meteremu: unit %d outside 1..247", u.ID)
		}
		if _, dup := e.units[u.ID]; dup {
			return nil, fmt.Errorf("meteremu: unit %d twice", u.ID)
		}
		p, err := modbusmeter.LoadProfile(u.Profile)
		if err != nil {
			return nil, fmt.Errorf("meteremu: unit %d: %w", u.ID, err)
		}
		m := &meter{Unit: u, prof: p, origin: now, base: map[string]float64{}}
		for _, pt := range p.Points {
			if pt.Counter {
				m.base[pt.Name] = 1000 + 1000*phase(u.ID, pt.Name)
			}
		}
		e.units[u.ID] = m
	}
	return e, nil
}

// SetFault injects f into unit id (Fault{} clears it).
func (e *Emulator) SetFault(id uint8, f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m := e.units[id]; m != nil {
		m.fault = f
	}
}

// SetOrder switches the word order unit id answers in, as a meter's menu
// does.
func (e *Emulator) SetOrder(id uint8, o modbusmeter.Order) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m := e.units[id]; m != nil {
		m.Order = o
	}
}

// SetCounter sets a counter of unit id to value now (in the point's unit);
// it keeps rising from there. Setting it lower emulates a meter reset or
// replacement; setting it near the top of an integer type's range
// provokes a rollover.
func (e *Emulator) SetCounter(id uint8, name string, value float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m := e.units[id]; m != nil {
		m.rebase(e.cfg.Now(), e.cfg.Rate)
		m.base[name] = value
	}
}

// ResetCounters sets every counter of unit id to zero: a meter reset.
func (e *Emulator) ResetCounters(id uint8) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m := e.units[id]; m != nil {
		m.rebase(e.cfg.Now(), e.cfg.Rate)
		for k := range m.base {
			m.base[k] = 0
		}
	}
}

// Requests returns how many requests unit id has received.
func (e *Emulator) Requests(id uint8) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m := e.units[id]; m != nil {
		return m.requests
	}
	return 0
}

// Value returns what unit id reports for a point at time t, in the
// point's unit (before encoding).
func (e *Emulator) Value(id uint8, name string, t time.Time) (float64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.units[id]
	if m == nil {
		return 0, false
	}
	pt, ok := m.prof.Point(name)
	if !ok {
		return 0, false
	}
	return m.value(pt, t, e.cfg.Rate), true
}

// rebase moves the counters' origin to now, keeping their values.
func (m *meter) rebase(now time.Time, rate float64) {
	for _, pt := range m.prof.Points {
		if pt.Counter {
			m.base[pt.Name] = m.value(pt, now, rate)
		}
	}
	m.origin = now
}

// value is a point's engineering value at t: a counter rising from its
// base, or a gauge moving around a typical value for its unit.
func (m *meter) value(pt modbusmeter.Point, t time.Time, rate float64) float64 {
	if pt.Counter {
		if pt.Unit == "varh" || pt.Unit == "Wh" {
			rate *= 1000
		}
		return m.base[pt.Name] + math.Max(t.Sub(m.origin).Hours(), 0)*rate
	}
	base, amp := typical(pt)
	x := 2 * math.Pi * (float64(t.UnixNano())/float64(time.Minute) + phase(m.ID, pt.Name))
	v := base + amp*math.Sin(x)
	if pt.Max > pt.Min {
		v = math.Max(pt.Min, math.Min(pt.Max, v))
	}
	return v
}

// typical returns a plausible level and swing for a gauge.
func typical(pt modbusmeter.Point) (base, amp float64) {
	switch pt.Unit {
	case "V":
		if strings.ContainsAny(pt.Name, "123") && len(pt.Name) == 3 || strings.HasSuffix(pt.Name, "ll") {
			return 400, 5
		}
		return 230, 3
	case "A":
		return 5, 2
	case "W":
		return 1150, 500
	case "VA":
		return 1250, 500
	case "var":
		return 200, 100
	case "Hz":
		return 50, 0.05
	case "/":
		return 0.95, 0.03
	case "%":
		return 2.5, 1
	}
	return (pt.Min + pt.Max) / 2, 0
}

// phase derives a per-unit, per-point phase in [0, 1).
func phase(id uint8, name string) float64 {
	h := fnv.New64a()
	h.Write([]byte{id})
	h.Write([]byte(name))
	return float64(h.Sum64()>>11) / (1 << 53)
}

// registers returns count registers of fc from addr as unit m presents
// them at t; unmapped registers read 0. ok is false when the range touches
// a no-span range of the profile.
func (m *meter) registers(fc uint8, addr, count uint16, t time.Time, rate float64) ([]uint16, bool) {
	regs := make([]uint16, count)
	end := int(addr) + int(count)
	for _, s := range m.prof.NoSpan {
		if s.FC == fc && int(s.From) < end && int(addr) <= int(s.To) {
			return nil, false
		}
	}
	for _, pt := range m.prof.Points {
		w := pt.Type.Words()
		if pt.FC != fc || int(pt.Addr)+w <= int(addr) || int(pt.Addr) >= end {
			continue
		}
		raw := m.value(pt, t, rate) / pt.Scale
		var bits uint64
		if pt.Counter && pt.Type != modbusmeter.Float32 {
			bits = uint64(int64(math.Round(raw))) // integer counters wrap
		} else {
			bits = modbusmeter.Bits(pt.Type, raw)
		}
		order := pt.Order
		if m.Order != "" {
			order = m.Order
		}
		enc, _ := modbusmeter.Encode(pt.Type, order, bits)
		for i, r := range enc {
			if j := int(pt.Addr) + i - int(addr); j >= 0 && j < len(regs) {
				regs[j] = r
			}
		}
	}
	return regs, true
}

// Respond returns the reply frame the bus would carry for one request
// frame, the delay before it, and false when no reply goes out (dead unit,
// broadcast, bad request CRC, unknown unit).
func (e *Emulator) Respond(req []byte) (reply []byte, delay time.Duration, ok bool) {
	reply, delay, ok, _ = e.respond(req)
	return reply, delay, ok
}

func (e *Emulator) respond(req []byte) (reply []byte, delay time.Duration, ok, partial bool) {
	if len(req) < 4 || modbusmeter.CRC16(req[:len(req)-2]) != binary.LittleEndian.Uint16(req[len(req)-2:]) {
		return nil, 0, false, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.units[req[0]]
	if m == nil {
		return nil, 0, false, false
	}
	m.requests++
	f := m.fault
	if f.Count > 0 {
		if m.fault.Count--; m.fault.Count == 0 {
			m.fault = Fault{}
		}
	}
	if f.Dead {
		return nil, 0, false, false
	}
	fc := req[1]
	var pdu []byte
	switch {
	case f.Exception != 0:
		pdu = []byte{fc | 0x80, f.Exception}
	case fc != modbusmeter.ReadHolding && fc != modbusmeter.ReadInput:
		pdu = []byte{fc | 0x80, 1}
	case len(req) != 8:
		pdu = []byte{fc | 0x80, 3}
	default:
		addr, count := binary.BigEndian.Uint16(req[2:]), binary.BigEndian.Uint16(req[4:])
		if count < 1 || int(count) > m.prof.MaxRegs {
			pdu = []byte{fc | 0x80, 3}
			break
		}
		if int(addr)+int(count) > 0x10000 {
			pdu = []byte{fc | 0x80, 2}
			break
		}
		regs, ok := m.registers(fc, addr, count, e.cfg.Now(), e.cfg.Rate)
		if !ok {
			pdu = []byte{fc | 0x80, 2}
			break
		}
		pdu = make([]byte, 2+2*len(regs))
		pdu[0], pdu[1] = fc, byte(2*len(regs))
		for i, r := range regs {
			binary.BigEndian.PutUint16(pdu[2+2*i:], r)
		}
	}
	reply = Frame(m.ID, pdu)
	if f.BadCRC {
		reply[len(reply)-1] ^= 0x5A
	}
	if f.Partial {
		reply = reply[:len(reply)/2]
	}
	if f.Garbage {
		reply = append([]byte{0x00, 0xFF, 0x13}, reply...)
	}
	return reply, f.Delay, true, f.Partial
}

// Send implements goburrow's modbus.Transporter in memory, so the driver's
// unit tests run without a pseudo-terminal: no reply, or a partial one,
// is a serial timeout, as on a line.
func (e *Emulator) Send(req []byte) ([]byte, error) {
	reply, _, ok, partial := e.respond(req)
	if !ok || partial {
		return nil, serial.ErrTimeout
	}
	return reply, nil
}

// Frame appends unit id and CRC-16/MODBUS to a PDU.
func Frame(id uint8, pdu []byte) []byte {
	b := append([]byte{id}, pdu...)
	c := modbusmeter.CRC16(b)
	return append(b, byte(c), byte(c>>8))
}
