package option

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseArgs turns key=value pairs given on a command line (`edgegw sensor
// read --opt vref=3.3`) into a device's options mapping, typing each value
// as a YAML decoder would: an integer (0x76 too), else a number, else a
// boolean, else a string. A pair without "=" or with an empty key is an
// error naming the pair.
func ParseArgs(kvs []string) (map[string]any, error) {
	options := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		options[k] = argValue(v)
	}
	return options, nil
}

// argValue types a command-line option value as a YAML decoder would.
func argValue(v string) any {
	if i, err := strconv.ParseInt(v, 0, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	if b, err := strconv.ParseBool(v); err == nil {
		return b
	}
	return v
}
