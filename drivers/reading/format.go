package reading

import (
	"math"
	"strconv"
	"strings"
)

// display is how people read a unit: its symbol, the factor from the SenML
// unit to the symbol's, and the decimals of the resolution the devices give
// (datasheets: BME280 0.01 °C, 1/1024 %RH, 0.18 Pa; SCD4x 1 ppm; SPS30 and
// PMS5003 0.1 and 1 µg/m³, SPS30 0.1 /cm³ and 0.01 µm; energy meters 0.1 V, 0.001 A, 1 W, 0.01 kWh,
// 0.01 Hz, 0.001 power factor).
type display struct {
	symbol   string
	factor   float64
	decimals int
}

var displays = map[Unit]display{
	Celsius:    {"°C", 1, 2},
	RelHumid:   {"%RH", 1, 2},
	Pascal:     {"hPa", 0.01, 2},
	PPM:        {"ppm", 1, 0},
	PPB:        {"ppb", 1, 0},
	MicrogramM: {"µg/m³", 1, 1},
	"/cm3":     {"/cm³", 1, 1},
	"um":       {"µm", 1, 2},
	Volt:       {"V", 1, 2},
	Ampere:     {"A", 1, 3},
	Watt:       {"W", 1, 0},
	"VA":       {"VA", 1, 0},
	"var":      {"var", 1, 0},
	KWh:        {"kWh", 1, 2},
	"varh":     {"varh", 1, 2},
	"kvarh":    {"kvarh", 1, 2},
	Hertz:      {"Hz", 1, 2},
	"%":        {"%", 1, 1},
	"/":        {"", 1, 3},
}

// maxDecimals bounds the decimals of a unit edgegw does not know.
const maxDecimals = 6

// Symbol returns the symbol people read for u ("°C" for Cel, "µg/m³" for
// ug/m3, "hPa" for Pa, "" for the ratio "/"); an unknown unit is its own
// symbol.
func (u Unit) Symbol() string {
	if d, ok := displays[u]; ok {
		return d.symbol
	}
	return string(u)
}

// FormatValue returns v, in unit u, as people read it: converted to the
// unit's Symbol (Pa to hPa), with the decimals of the resolution its devices
// give (°C, %RH, hPa, V, Hz and kWh 2; µg/m³ 1; A 3; ppm, ppb and W 0),
// then a space and the symbol: "21.70 °C", "1013.25 hPa", "412 ppm". A
// value of a unit without a known resolution prints as the shortest decimal
// of at most 6 decimals. NaN and the infinities print as Go spells them.
func FormatValue(v float64, u Unit) string {
	d, known := displays[u]
	if !known {
		d = display{symbol: string(u), factor: 1, decimals: -1}
	}
	v *= d.factor
	var num string
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		num = strconv.FormatFloat(v, 'f', -1, 64)
	case !known:
		num = strings.TrimRight(strings.TrimRight(strconv.FormatFloat(v, 'f', maxDecimals, 64), "0"), ".")
	default:
		num = strconv.FormatFloat(v, 'f', d.decimals, 64)
		if strings.Trim(num, "-0.") == "" {
			num = strings.TrimPrefix(num, "-") // no "-0.00"
		}
	}
	if d.symbol == "" {
		return num
	}
	return num + " " + d.symbol
}

// Text returns the reading's value with its unit, as FormatValue gives it,
// and its quality flags once, in parentheses, when any is set: "21.70 °C",
// "12.0 µg/m³ (humid)", "4.2 µg/m³ (stuck,humid)". A reading the device could not give has no value:
// "? (read-error)".
func (r Reading) Text() string {
	v := "?"
	if r.Flags&ReadError == 0 {
		v = FormatValue(r.Value, r.Unit)
	}
	if r.Flags == 0 {
		return v
	}
	return v + " (" + strings.Join(r.Flags.Names(), ",") + ")"
}

// Number is a reading's value in JSON output. A value that is exactly a
// binary32 (the float32 registers of a meter, SenML float32 on the wire)
// encodes as the shortest decimal that reads back as that binary32, 21.7
// rather than 21.700000762939453; any other value as the shortest decimal
// of its binary64. NaN and the infinities, which JSON cannot hold, encode as
// null. It decodes like a float64.
type Number float64

// MarshalJSON implements json.Marshaler.
func (n Number) MarshalJSON() ([]byte, error) {
	v := float64(n)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	bits := 64
	if float64(float32(v)) == v {
		bits = 32
	}
	format := byte('f') // as encoding/json: exponents only outside 1e-6..1e21
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(nil, v, format, -1, bits), nil
}
