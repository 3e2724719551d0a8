package config

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxShownValue is the number of runes of a bad value FieldError.Error shows;
// longer values are cut and end with "…".
const maxShownValue = 80

// FieldError is one problem found in a configuration file. Parse, Load,
// Validate and DeviceError return FieldErrors, several of them joined with
// errors.Join; use errors.As, or the Unwrap() []error method of the joined
// error, to get at them.
type FieldError struct {
	// File is the name the configuration was loaded from.
	File string
	// Line is the 1-based line the problem is on; 0 when unknown.
	Line int
	// Path is the dotted field path, such as "devices[2].interval"; empty
	// for problems with the document as a whole.
	Path string
	// Value is the offending value as written in the file; empty when there
	// is no single value to show (missing or unknown fields, mappings).
	Value string
	// Msg says what is wrong, in lowercase.
	Msg string
}

// Error formats the error as `file:line: path: "value" msg`, leaving out the
// line when it is 0, the path when it is empty and the value when it is empty,
// for example:
//
//	pi.yaml:14: devices[2].interval: "5x" is not a duration
//	demo.yaml:3: uplink.brokr: unknown field
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Value != "" {
		v := e.Value
		if utf8.RuneCountInString(v) > maxShownValue {
			v = string([]rune(v)[:maxShownValue]) + "…"
		}
		b.WriteString(strconv.Quote(v))
		b.WriteByte(' ')
	}
	b.WriteString(e.Msg)
	return b.String()
}
