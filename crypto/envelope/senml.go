package envelope

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/edgegw/edgegw/crypto/internal/detcbor"

	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/fxamacker/cbor/v2"
)

// SenML-CBOR labels (RFC 8428 section 6) used by edgegw, and the "q" extension
// label carrying reading.Flags.
const (
	labelBaseName  = -2
	labelBaseTime  = -3
	labelBaseUnit  = -4
	labelBaseValue = -5
	labelBaseSum   = -6
	labelName      = 0
	labelUnit      = 1
	labelValue     = 2
	labelTime      = 6
	labelFlags     = "q"
)

// maxRecords is the maximum number of records in one SenML pack.
const maxRecords = 10000

// maxTimeSeconds bounds absolute and relative times (about ±3000 years).
const maxTimeSeconds = 1 << 36

// EncodeSenML encodes readings as a SenML-CBOR pack (RFC 8428), one record per
// reading in the given order, in the compact form specified in
// docs/envelope.md: the base name "<device>:" and the base time go on the first
// record (base name again where the device changes), "t" only when a reading's
// time differs from the base time, "bu" where the unit changes, values in the
// shortest exact float form, and flags as the extension label "q" when non-zero.
// Times are rounded to the millisecond. It rejects NaN and infinite values
// except on readings flagged reading.ReadError, whose value is omitted.
func EncodeSenML(readings []reading.Reading) ([]byte, error) {
	return appendSenML(nil, readings)
}

// appendSenML appends the SenML-CBOR pack of readings to b. On error, the
// appended bytes are cleared.
func appendSenML(b []byte, readings []reading.Reading) ([]byte, error) {
	start := len(b)
	fail := func(i int, format string, args ...any) ([]byte, error) {
		clear(b[start:])
		return b[:start], fmt.Errorf("senml: reading %d: %s", i, fmt.Sprintf(format, args...))
	}
	if len(readings) == 0 {
		return b, errors.New("senml: no readings")
	}
	if len(readings) > maxRecords {
		return b, fmt.Errorf("senml: %d readings, more than %d", len(readings), maxRecords)
	}
	b = detcbor.AppendHead(b, majorArray, uint64(len(readings)))
	var (
		device  string
		unit    reading.Unit
		baseMS  int64
		hasBase bool
	)
	for i := range readings {
		r := &readings[i]
		if err := checkName(r.Device, r.Channel); err != nil {
			return fail(i, "%v", err)
		}
		if !utf8.ValidString(string(r.Unit)) {
			return fail(i, "unit is not valid UTF-8")
		}
		if r.Time.IsZero() {
			return fail(i, "%s:%s: no time", r.Device, r.Channel)
		}
		ms := r.Time.Round(time.Millisecond).UnixMilli()
		if ms/1000 > maxTimeSeconds || ms/1000 < -maxTimeSeconds {
			return fail(i, "%s:%s: time %v out of range", r.Device, r.Channel, r.Time)
		}
		readErr := r.Flags&reading.ReadError != 0
		if !readErr && (math.IsNaN(r.Value) || math.IsInf(r.Value, 0)) {
			return fail(i, "%s:%s: value %v is not finite", r.Device, r.Channel, r.Value)
		}
		newDev := i == 0 || r.Device != device
		newUnit := r.Unit != unit
		n := 1 // name
		if !readErr {
			n++
		}
		if hasBase && ms != baseMS {
			n++
		}
		if newDev {
			n++
		}
		if !hasBase {
			n++
		}
		if newUnit {
			n++
		}
		if r.Flags != 0 {
			n++
		}
		// Keys in deterministic order: 0, 2, 6, -2, -3, -4, "q".
		b = detcbor.AppendHead(b, majorMap, uint64(n))
		b = appendInt(b, labelName)
		b = appendText(b, r.Channel)
		if !readErr {
			b = appendInt(b, labelValue)
			b = appendFloat(b, r.Value)
		}
		if hasBase && ms != baseMS {
			b = appendInt(b, labelTime)
			b = appendSeconds(b, ms-baseMS)
		}
		if newDev {
			b = appendInt(b, labelBaseName)
			b = detcbor.AppendHead(b, majorText, uint64(len(r.Device)+1))
			b = append(b, r.Device...)
			b = append(b, ':')
			device = r.Device
		}
		if !hasBase {
			b = appendInt(b, labelBaseTime)
			b = appendSeconds(b, ms)
			baseMS, hasBase = ms, true
		}
		if newUnit {
			b = appendInt(b, labelBaseUnit)
			b = appendText(b, string(r.Unit))
			unit = r.Unit
		}
		if r.Flags != 0 {
			b = appendText(b, labelFlags)
			b = detcbor.AppendHead(b, majorUint, uint64(r.Flags))
		}
	}
	return b, nil
}

// appendSeconds appends a time in milliseconds as seconds: an integer when
// whole, else the shortest exact float of ms/1000.
func appendSeconds(b []byte, ms int64) []byte {
	if ms%1000 == 0 {
		return appendInt(b, ms/1000)
	}
	return appendFloat(b, float64(ms)/1000)
}

// checkName checks that device and channel are non-empty, that the device
// has no ':' (so the resolved name splits at its first ':' one way only), and
// that the resolved SenML name "<device>:<channel>" uses only the characters
// RFC 8428 section 4.5.1 allows, starting with a letter or digit.
func checkName(device, channel string) error {
	if device == "" || channel == "" {
		return fmt.Errorf("empty device or channel name (%q, %q)", device, channel)
	}
	if !isAlnum(device[0]) {
		return fmt.Errorf("name %q: must start with a letter or digit", device)
	}
	if strings.Contains(device, ":") {
		return fmt.Errorf("device name %q: invalid character ':'", device)
	}
	for _, s := range [2]string{device, channel} {
		for i := 0; i < len(s); i++ {
			if c := s[i]; !isAlnum(c) && c != '-' && c != ':' && c != '.' && c != '/' && c != '_' {
				return fmt.Errorf("name %q: invalid character %q", s, c)
			}
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// DecodeSenML decodes a SenML-CBOR pack written by EncodeSenML, resolving base
// name, base time and base unit. It is strict: it rejects malformed CBOR or
// CBOR not in the deterministic encoding, an empty pack, labels of the wrong
// type, unknown must-understand labels (ending in "_"), base value and base
// sum (which it does not implement), names that are not "<device>:<channel>"
// in the RFC 8428 character set with no ':' in the device, non-finite values
// or times, records without a value unless flagged reading.ReadError (whose
// Value is then 0), and records flagged reading.ReadError with a value. Times
// are returned in UTC with millisecond precision.
func DecodeSenML(data []byte) ([]reading.Reading, error) {
	var pack []map[any]cbor.RawMessage
	if err := senmlDecMode.Unmarshal(data, &pack); err != nil {
		return nil, fmt.Errorf("senml: %w", err)
	}
	if len(pack) == 0 {
		return nil, errors.New("senml: empty pack")
	}
	if err := checkDeterministic(data); err != nil {
		return nil, fmt.Errorf("senml: not in deterministic encoding: %w", err)
	}
	out := make([]reading.Reading, 0, len(pack))
	var (
		bn     string
		bu     reading.Unit
		btMS   int64
		hasBT  bool
		haveBN bool
	)
	for i, rec := range pack {
		var (
			name, unit                   string
			hasName, hasUnit, hasV, hasT bool
			v                            float64
			tMS                          int64
			flags                        uint64
		)
		for k, raw := range rec {
			var err error
			switch k := k.(type) {
			case int64, uint64:
				var label int64
				if u, ok := k.(uint64); ok {
					if u > 1<<16 {
						continue // unknown label: ignore (RFC 8428 section 4.4)
					}
					label = int64(u)
				} else {
					label = k.(int64)
				}
				switch label {
				case labelBaseName:
					bn, err = decodeText(raw)
					haveBN = true
				case labelBaseTime:
					btMS, err = decodeSeconds(raw)
					hasBT = true
				case labelBaseUnit:
					var s string
					s, err = decodeText(raw)
					bu = reading.Unit(s)
				case labelName:
					name, err = decodeText(raw)
					hasName = true
				case labelUnit:
					unit, err = decodeText(raw)
					hasUnit = true
				case labelValue:
					v, err = decodeNumber(raw)
					if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
						err = errors.New("value is not finite")
					}
					hasV = true
				case labelTime:
					tMS, err = decodeSeconds(raw)
					hasT = true
				case labelBaseValue, labelBaseSum:
					err = fmt.Errorf("label %d (base value/sum) not supported", label)
				}
			case string:
				switch {
				case k == labelFlags:
					flags, err = decodeUint(raw)
					if err == nil && flags > math.MaxUint16 {
						err = fmt.Errorf("flags %d out of range", flags)
					}
				case strings.HasSuffix(k, "_"):
					err = fmt.Errorf("unknown must-understand label %q", k)
				}
			default:
				err = fmt.Errorf("label of type %T", k)
			}
			if err != nil {
				return nil, fmt.Errorf("senml: record %d: %w", i, err)
			}
		}
		if !haveBN || !strings.HasSuffix(bn, ":") {
			return nil, fmt.Errorf("senml: record %d: base name %q is not \"<device>:\"", i, bn)
		}
		if !hasName {
			return nil, fmt.Errorf("senml: record %d: no name", i)
		}
		dev := bn[:len(bn)-1]
		if err := checkName(dev, name); err != nil {
			return nil, fmt.Errorf("senml: record %d: %w", i, err)
		}
		if !hasBT {
			return nil, fmt.Errorf("senml: record %d: no base time", i)
		}
		if !hasT {
			tMS = 0
		}
		r := reading.Reading{
			Device:  dev,
			Channel: name,
			Unit:    bu,
			Time:    time.UnixMilli(btMS + tMS).UTC(),
			Flags:   reading.Flags(flags),
		}
		if hasUnit {
			r.Unit = reading.Unit(unit)
		}
		switch readErr := r.Flags&reading.ReadError != 0; {
		case hasV && readErr:
			return nil, fmt.Errorf("senml: record %d: a value on a reading flagged read-error", i)
		case hasV:
			r.Value = v
		case !readErr:
			return nil, fmt.Errorf("senml: record %d: no value", i)
		}
		out = append(out, r)
	}
	return out, nil
}

// decodeText decodes a CBOR text string (not null, which the generic decoder
// would turn into "").
func decodeText(raw cbor.RawMessage) (string, error) {
	var s string
	if len(raw) == 0 || raw[0]>>5 != majorText {
		return "", errors.New("text string expected")
	}
	err := senmlDecMode.Unmarshal(raw, &s)
	return s, err
}

// decodeUint decodes a CBOR unsigned integer (not null).
func decodeUint(raw cbor.RawMessage) (uint64, error) {
	var u uint64
	if len(raw) == 0 || raw[0]>>5 != majorUint {
		return 0, errors.New("unsigned integer expected")
	}
	err := senmlDecMode.Unmarshal(raw, &u)
	return u, err
}

// decodeNumber decodes a CBOR integer or float as a float64.
func decodeNumber(raw cbor.RawMessage) (float64, error) {
	var x any
	if err := senmlDecMode.Unmarshal(raw, &x); err != nil {
		return 0, err
	}
	switch x := x.(type) {
	case uint64:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return 0, fmt.Errorf("number expected, got %T", x)
}

// decodeSeconds decodes a time in seconds (integer or float) to milliseconds.
func decodeSeconds(raw cbor.RawMessage) (int64, error) {
	f, err := decodeNumber(raw)
	if err != nil {
		return 0, fmt.Errorf("time: %w", err)
	}
	if math.IsNaN(f) || f > maxTimeSeconds || f < -maxTimeSeconds {
		return 0, fmt.Errorf("time %v out of range", f)
	}
	return int64(math.Round(f * 1000)), nil
}
