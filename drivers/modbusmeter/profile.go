package modbusmeter

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/edgegw/edgegw/drivers/reading"
	"gopkg.in/yaml.v3"
)

// Function codes of the register reads a profile may use.
const (
	ReadHolding uint8 = 0x03 // read holding registers ("4x")
	ReadInput   uint8 = 0x04 // read input registers ("3x")
)

// MaxRegs is the Modbus limit on registers per read request.
const MaxRegs = 125

// Type is the data type of a value in registers.
type Type string

// Data types a point may have.
const (
	Uint16  Type = "uint16"
	Int16   Type = "int16"
	Uint32  Type = "uint32"
	Int32   Type = "int32"
	Float32 Type = "float32"
	Uint64  Type = "uint64"
	Int64   Type = "int64"
)

// Words is the number of 16-bit registers the type spans.
func (t Type) Words() int {
	switch t {
	case Uint16, Int16:
		return 1
	case Uint32, Int32, Float32:
		return 2
	case Uint64, Int64:
		return 4
	}
	return 0
}

// Order is the word and byte order of a multi-register value, naming the
// bytes of the value A (most significant) to D as they appear on the wire.
// For 64-bit values the word order generalises: ABCD = most significant
// word first, CDAB = least significant word first, BADC and DCBA swap the
// bytes inside each register as well.
type Order string

// Word orders.
const (
	ABCD Order = "ABCD" // big endian, most significant register first
	CDAB Order = "CDAB" // word-swapped: least significant register first
	BADC Order = "BADC" // byte-swapped registers, most significant first
	DCBA Order = "DCBA" // little endian
)

// Orders lists the word orders in the order a scan tries them.
var Orders = []Order{ABCD, CDAB, BADC, DCBA}

// Point is one value a profile reads.
type Point struct {
	Name    string       `yaml:"name"`    // short channel name, e.g. "v1"
	Desc    string       `yaml:"desc"`    // what it is, e.g. "L1-N voltage"
	FC      uint8        `yaml:"fc"`      // 3 or 4; default the profile's
	Addr    uint16       `yaml:"addr"`    // wire address, zero-based
	Type    Type         `yaml:"type"`    // default the profile's
	Order   Order        `yaml:"order"`   // default the profile's
	Scale   float64      `yaml:"scale"`   // multiplier to Unit; default 1
	Unit    reading.Unit `yaml:"unit"`    // SenML unit after scaling
	Counter bool         `yaml:"counter"` // monotonic counter (energy)
	Min     float64      `yaml:"min"`     // plausible range in Unit
	Max     float64      `yaml:"max"`
}

// Span is a register range [From, To] (inclusive) that must never be read
// through, because the meter answers such reads with an exception.
type Span struct {
	FC   uint8  `yaml:"fc"`
	From uint16 `yaml:"from"`
	To   uint16 `yaml:"to"`
}

// Profile is a meter model's register map.
type Profile struct {
	Name     string  `yaml:"name"`     // short name used in configs, e.g. "sdm630"
	Maker    string  `yaml:"maker"`    // manufacturer
	Model    string  `yaml:"model"`    // model and register map revision
	Source   string  `yaml:"source"`   // where the register map comes from
	Verified string  `yaml:"verified"` // what was checked, and how
	FC       uint8   `yaml:"fc"`       // default function code
	Type     Type    `yaml:"type"`     // default data type
	Order    Order   `yaml:"order"`    // default word order
	MaxRegs  int     `yaml:"max_regs"` // registers per request the meter accepts (default 125)
	Baud     int     `yaml:"baud"`     // factory default baud rate, informative
	NoSpan   []Span  `yaml:"no_span"`  // ranges never read through
	Points   []Point `yaml:"points"`
	File     string  `yaml:"-"` // file the profile was loaded from
	Embedded bool    `yaml:"-"` // shipped with the binary
}

//go:embed profiles/*.yaml
var shipped embed.FS

// Profiles returns the shipped profiles sorted by name.
func Profiles() ([]*Profile, error) {
	entries, err := fs.ReadDir(shipped, "profiles")
	if err != nil {
		return nil, err
	}
	var out []*Profile
	for _, e := range entries {
		b, err := shipped.ReadFile(path.Join("profiles", e.Name()))
		if err != nil {
			return nil, err
		}
		p, err := ParseProfile(b, e.Name())
		if err != nil {
			return nil, err
		}
		p.Embedded = true
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *Profile) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// LoadProfile returns the shipped profile called name, or, when name
// contains a slash or ends in .yaml/.yml, the profile in that file.
func LoadProfile(name string) (*Profile, error) {
	if strings.ContainsRune(name, '/') || strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		return ParseProfile(b, name)
	}
	all, err := Profiles()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range all {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return nil, fmt.Errorf("%q is neither a shipped profile (%s) nor a file path", name, strings.Join(names, ", "))
}

// ParseProfile decodes and checks a profile document; file names it in
// errors.
func ParseProfile(b []byte, file string) (*Profile, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	p := &Profile{}
	if err := dec.Decode(p); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	p.File = file
	if err := p.normalise(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return p, nil
}

// normalise fills per-point defaults and checks the profile.
func (p *Profile) normalise() error {
	var errs []error
	if p.Name == "" {
		errs = append(errs, errors.New("name: missing"))
	}
	if p.MaxRegs == 0 {
		p.MaxRegs = MaxRegs
	}
	if p.MaxRegs < 4 || p.MaxRegs > MaxRegs {
		errs = append(errs, fmt.Errorf("max_regs: %d outside 4..125", p.MaxRegs))
	}
	if len(p.Points) == 0 {
		errs = append(errs, errors.New("points: empty"))
	}
	seen := map[string]bool{}
	for i := range p.Points {
		pt := &p.Points[i]
		at := fmt.Sprintf("points[%d]", i)
		if pt.FC == 0 {
			pt.FC = p.FC
		}
		if pt.Type == "" {
			pt.Type = p.Type
		}
		if pt.Order == "" {
			pt.Order = p.Order
		}
		if pt.Order == "" {
			pt.Order = ABCD
		}
		if pt.Scale == 0 {
			pt.Scale = 1
		}
		switch {
		case pt.Name == "":
			errs = append(errs, fmt.Errorf("%s.name: missing", at))
		case seen[pt.Name]:
			errs = append(errs, fmt.Errorf("%s.name: %q used twice", at, pt.Name))
		}
		seen[pt.Name] = true
		if pt.FC != ReadHolding && pt.FC != ReadInput {
			errs = append(errs, fmt.Errorf("%s.fc: %d is not 3 or 4", at, pt.FC))
		}
		if pt.Type.Words() == 0 {
			errs = append(errs, fmt.Errorf("%s.type: %q is not one of uint16, int16, uint32, int32, float32, uint64, int64", at, pt.Type))
		}
		if !slices.Contains(Orders, pt.Order) {
			errs = append(errs, fmt.Errorf("%s.order: %q is not one of ABCD, CDAB, BADC, DCBA", at, pt.Order))
		}
		if int(pt.Addr)+pt.Type.Words() > 0x10000 {
			errs = append(errs, fmt.Errorf("%s.addr: 0x%04X runs past 0xFFFF", at, pt.Addr))
		}
		if pt.Unit == "" {
			errs = append(errs, fmt.Errorf("%s.unit: missing", at))
		}
		if pt.Max < pt.Min {
			errs = append(errs, fmt.Errorf("%s.max: %g below min %g", at, pt.Max, pt.Min))
		}
	}
	return errors.Join(errs...)
}

// Point returns the point called name.
func (p *Profile) Point(name string) (Point, bool) {
	for _, pt := range p.Points {
		if pt.Name == name {
			return pt, true
		}
	}
	return Point{}, false
}

// Channels returns the profile's points as gateway channels.
func (p *Profile) Channels(stuckAfter int) []reading.Channel {
	out := make([]reading.Channel, len(p.Points))
	for i, pt := range p.Points {
		out[i] = reading.Channel{Name: pt.Name, Unit: pt.Unit, Min: pt.Min, Max: pt.Max, Counter: pt.Counter}
		if !pt.Counter {
			out[i].StuckAfter = stuckAfter
		}
	}
	return out
}

// Raw assembles the bits of a value of type t from its registers in the
// given word order. regs must hold t.Words() registers.
func Raw(t Type, o Order, regs []uint16) (uint64, error) {
	n := t.Words()
	if n == 0 {
		return 0, fmt.Errorf("unknown type %q", t)
	}
	if len(regs) < n {
		return 0, fmt.Errorf("%s needs %d registers, got %d", t, n, len(regs))
	}
	var v uint64
	for i := range n {
		var r uint16
		switch o {
		case ABCD, BADC:
			r = regs[i]
		case CDAB, DCBA:
			r = regs[n-1-i]
		default:
			return 0, fmt.Errorf("unknown word order %q", o)
		}
		if (o == BADC || o == DCBA) && n > 1 {
			r = r<<8 | r>>8
		}
		v = v<<16 | uint64(r)
	}
	return v, nil
}

// Encode is the inverse of Raw: it lays out bits as t.Words() registers in
// the given word order.
func Encode(t Type, o Order, bits uint64) ([]uint16, error) {
	n := t.Words()
	if n == 0 {
		return nil, fmt.Errorf("unknown type %q", t)
	}
	regs := make([]uint16, n)
	for i := range n {
		r := uint16(bits >> (16 * (n - 1 - i)))
		if (o == BADC || o == DCBA) && n > 1 {
			r = r<<8 | r>>8
		}
		switch o {
		case ABCD, BADC:
			regs[i] = r
		case CDAB, DCBA:
			regs[n-1-i] = r
		default:
			return nil, fmt.Errorf("unknown word order %q", o)
		}
	}
	return regs, nil
}

// Value converts raw bits of type t to a float, before scaling.
func Value(t Type, bits uint64) float64 {
	switch t {
	case Uint16:
		return float64(uint16(bits))
	case Int16:
		return float64(int16(bits))
	case Uint32:
		return float64(uint32(bits))
	case Int32:
		return float64(int32(bits))
	case Float32:
		return float64(math.Float32frombits(uint32(bits)))
	case Uint64:
		return float64(bits)
	case Int64:
		return float64(int64(bits))
	}
	return math.NaN()
}

// Bits converts an unscaled value to the raw bits of type t, rounding
// integers and saturating at the type's range.
func Bits(t Type, v float64) uint64 {
	clamp := func(lo, hi float64) float64 { return math.Max(lo, math.Min(hi, math.Round(v))) }
	switch t {
	case Uint16:
		return uint64(clamp(0, math.MaxUint16))
	case Int16:
		return uint64(uint16(int16(clamp(math.MinInt16, math.MaxInt16))))
	case Uint32:
		return uint64(clamp(0, math.MaxUint32))
	case Int32:
		return uint64(uint32(int32(clamp(math.MinInt32, math.MaxInt32))))
	case Float32:
		return uint64(math.Float32bits(float32(v)))
	case Uint64:
		return uint64(clamp(0, 1<<63))
	case Int64:
		return uint64(int64(clamp(-(1 << 63), 1<<62)))
	}
	return 0
}

// Decode returns the scaled value of pt from its registers.
func (pt Point) Decode(regs []uint16) (float64, error) {
	bits, err := Raw(pt.Type, pt.Order, regs)
	if err != nil {
		return 0, err
	}
	return Value(pt.Type, bits) * pt.Scale, nil
}
