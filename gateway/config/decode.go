package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxDepth bounds the nesting of device options.
const maxDepth = 32

// decoder walks the yaml.Node tree, filling a Config and collecting errors.
type decoder struct {
	file  string
	errs  []error
	lines map[string]int      // path → line of its key
	raw   map[string]rawValue // path → scalar as written
	bad   map[string]bool     // paths that failed to decode; not re-checked
}

func (d *decoder) fail(line int, path, value, msg string) {
	d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Path: path, Value: value, Msg: msg})
	d.bad[path] = true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	return "a scalar"
}

// usable reports whether n can be used as a value; aliases are refused so
// that a small file cannot expand into a huge configuration.
func (d *decoder) usable(n *yaml.Node, path string) bool {
	if n.Kind == yaml.AliasNode {
		d.fail(n.Line, path, "", "yaml aliases are not supported")
		return false
	}
	return true
}

// entries walks mapping n at path: it reports non-mappings and duplicate
// keys and calls each for every other entry. A null n counts as an empty
// mapping.
func (d *decoder) entries(n *yaml.Node, path string, each func(key string, k, v *yaml.Node, p string)) {
	if !d.usable(n, path) || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "", "must be a mapping, not "+kindName(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key, ok := d.key(k, path)
		if !ok {
			continue
		}
		p := join(path, key)
		if first, dup := seen[key]; dup {
			d.fail(k.Line, p, "", fmt.Sprintf("duplicate key (first on line %d)", first))
			continue
		}
		seen[key] = k.Line
		each(key, k, v, p)
	}
}

// key returns the text of mapping key k.
func (d *decoder) key(k *yaml.Node, path string) (string, bool) {
	switch {
	case k.Kind != yaml.ScalarNode:
		d.fail(k.Line, path, "", "mapping keys must be scalars, not "+kindName(k))
	case k.ShortTag() == "!!merge":
		d.fail(k.Line, join(path, k.Value), "", "yaml merge keys are not supported")
	case isNull(k) || k.Value == "":
		d.fail(k.Line, path, "", "mapping keys must not be empty")
	default:
		return k.Value, true
	}
	return "", false
}

// str decodes a scalar as text.
func (d *decoder) str(v *yaml.Node, p string, dst *string) {
	if v.Kind != yaml.ScalarNode {
		d.fail(v.Line, p, "", "must be a string, not "+kindName(v))
		return
	}
	d.raw[p] = rawValue{v.Value, v.Value}
	*dst = v.Value
}

// stringList decodes a sequence of strings; nil when it is empty.
func (d *decoder) stringList(v *yaml.Node, p string) []string {
	if v.Kind != yaml.SequenceNode {
		d.fail(v.Line, p, "", "must be a sequence, not "+kindName(v))
		return nil
	}
	var out []string
	for i, item := range v.Content {
		ip := fmt.Sprintf("%s[%d]", p, i)
		d.lines[ip] = item.Line
		var s string
		if d.usable(item, ip) {
			d.str(item, ip, &s)
		}
		out = append(out, s)
	}
	return out
}

// scalar returns v's text, reporting non-scalars with what as the expected kind.
func (d *decoder) scalar(v *yaml.Node, p, what string) (string, bool) {
	if v.Kind != yaml.ScalarNode {
		d.fail(v.Line, p, "", "must be "+what+", not "+kindName(v))
		return "", false
	}
	return v.Value, true
}

func (d *decoder) duration(v *yaml.Node, p string, dst *time.Duration) {
	s, ok := d.scalar(v, p, "a duration")
	if !ok {
		return
	}
	dur, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		d.fail(v.Line, p, s, "is not a duration (like 500ms, 10s, 5m, 720h)")
		return
	}
	d.raw[p] = rawValue{s, dur}
	*dst = dur
}

func (d *decoder) integer(v *yaml.Node, p string, dst *int) {
	s, ok := d.scalar(v, p, "an integer")
	if !ok {
		return
	}
	var n int64
	if v.ShortTag() != "!!int" || v.Decode(&n) != nil || n < math.MinInt32 || n > math.MaxInt32 {
		d.fail(v.Line, p, s, "is not an integer")
		return
	}
	d.raw[p] = rawValue{s, int(n)}
	*dst = int(n)
}

func (d *decoder) uinteger(v *yaml.Node, p string, dst *uint64) {
	s, ok := d.scalar(v, p, "an integer")
	if !ok {
		return
	}
	var n uint64
	if v.ShortTag() != "!!int" || v.Decode(&n) != nil {
		d.fail(v.Line, p, s, "is not a non-negative integer")
		return
	}
	d.raw[p] = rawValue{s, n}
	*dst = n
}

var sizeUnits = map[string]int64{
	"": 1, "B": 1,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
	"KB": 1e3, "MB": 1e6, "GB": 1e9,
}

// ParseSize parses a byte size: a plain integer of bytes, or an integer
// followed by B, KiB, MiB, GiB, KB, MB or GB, such as "256MiB" or "64 KiB".
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	mult, ok := sizeUnits[strings.TrimSpace(s[i:])]
	if i == 0 || !ok {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

func (d *decoder) size(v *yaml.Node, p string, dst *int64) {
	s, ok := d.scalar(v, p, "a size")
	if !ok {
		return
	}
	n, err := ParseSize(s)
	if err != nil {
		d.fail(v.Line, p, s, "is not a size (an integer of bytes, or with B, KiB, MiB, GiB, KB, MB or GB)")
		return
	}
	d.raw[p] = rawValue{s, n}
	*dst = n
}

// defaults returns the configuration of an empty file: every default set,
// nothing required filled in.
func defaults() *Config {
	return &Config{
		Gateway:    Gateway{Keys: DefaultKeysDir, State: DefaultStateDir},
		Uplink:     Uplink{TopicPrefix: DefaultTopicPrefix, Keepalive: DefaultKeepalive, Inflight: DefaultInflight, BackoffMin: DefaultBackoffMin, BackoffMax: DefaultBackoffMax, HealthInterval: DefaultHealthInterval, ReceiptTimeout: DefaultReceiptTimeout, Unreceipted: DefaultUnreceipted},
		Recipients: map[string]string{},
		Batch:      Batch{MaxReadings: DefaultMaxReadings, MaxDelay: DefaultMaxDelay, Durability: DefaultDurability},
		Buffer:     Buffer{MaxBytes: DefaultMaxBytes, MaxAge: DefaultMaxAge},
		Log:        Log{Level: DefaultLogLevel},
		Quality:    Quality{HumidRH: DefaultHumidRH},
		Fleet:      Fleet{Probation: DefaultProbation},
		Control:    Control{Socket: DefaultControlSocket, ViewerGroup: DefaultViewerGroup, TechnicianGroup: DefaultTechGroup, AdminGroup: DefaultAdminGroup},
		Devices:    []Device{},
	}
}

// config decodes the top-level mapping over the defaults.
func (d *decoder) config(root *yaml.Node) *Config {
	c := defaults()
	c.File, c.lines, c.raw = d.file, d.lines, d.raw
	d.lines[""] = root.Line
	d.structure(root, "", reflect.ValueOf(c).Elem())
	if c.Uplink.ClientID == "" {
		c.Uplink.ClientID = c.Gateway.ID
	}
	return c
}

// structure decodes mapping n at path into the struct dst, field by field
// as its schema says; fields the mapping leaves out, or sets to null, keep
// their value. It then fills dst's line fields.
func (d *decoder) structure(n *yaml.Node, path string, dst reflect.Value) {
	s := schemaOf(dst.Type())
	d.entries(n, path, func(key string, k, v *yaml.Node, p string) {
		f := s.byKey(key)
		if f == nil {
			d.fail(k.Line, p, "", "unknown field")
			return
		}
		d.lines[p] = k.Line
		if d.usable(v, p) && !isNull(v) {
			d.field(f, v, p, dst.Field(f.index))
		}
	})
	for _, l := range s.lines {
		at := path
		if l.key != "" {
			at = join(path, l.key)
		}
		dst.Field(l.index).SetInt(int64(d.lines[at]))
	}
}

// field decodes the non-null value v of field f at path p into dst.
func (d *decoder) field(f *field, v *yaml.Node, p string, dst reflect.Value) {
	switch f.kind {
	case kindString:
		d.str(v, p, dst.Addr().Interface().(*string))
	case kindDuration:
		d.duration(v, p, dst.Addr().Interface().(*time.Duration))
	case kindInt:
		d.integer(v, p, dst.Addr().Interface().(*int))
	case kindUint:
		d.uinteger(v, p, dst.Addr().Interface().(*uint64))
	case kindBytes:
		d.size(v, p, dst.Addr().Interface().(*int64))
	case kindStruct:
		d.structure(v, p, dst)
	case kindStrings:
		if list := d.stringList(v, p); list != nil {
			dst.Set(reflect.ValueOf(list))
		}
	case kindStructs:
		d.structs(v, p, dst)
	case kindStringMap:
		d.stringMap(v, p, dst.Interface().(map[string]string))
	case kindOptions:
		if v.Kind != yaml.MappingNode {
			d.fail(v.Line, p, "", "must be a mapping, not "+kindName(v))
			return
		}
		if m, _ := d.value(v, p, 0).(map[string]any); len(m) > 0 {
			dst.Set(reflect.ValueOf(m))
		}
	}
}

// stringMap decodes a mapping of free keys to text into dst; the keys are
// checked by Config.check.
func (d *decoder) stringMap(n *yaml.Node, path string, dst map[string]string) {
	d.entries(n, path, func(key string, k, v *yaml.Node, p string) {
		d.lines[p] = k.Line
		var s string
		if d.usable(v, p) && !isNull(v) {
			d.str(v, p, &s)
		}
		dst[key] = s
	})
}

// structs decodes a sequence of mappings, appending them to the slice dst.
func (d *decoder) structs(n *yaml.Node, path string, dst reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n.Line, path, "", "must be a sequence, not "+kindName(n))
		return
	}
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		if isNull(item) {
			d.fail(item.Line, p, "", "must be a mapping, not empty")
		}
		elem := reflect.New(dst.Type().Elem()).Elem()
		d.structure(item, p, elem)
		dst.Set(reflect.Append(dst, elem))
	}
}

// value decodes a free-form options value.
func (d *decoder) value(n *yaml.Node, path string, depth int) any {
	if !d.usable(n, path) {
		return nil
	}
	if depth > maxDepth {
		d.fail(n.Line, path, "", "is nested too deeply")
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		d.entries(n, path, func(key string, k, v *yaml.Node, p string) {
			d.lines[p] = k.Line
			m[key] = d.value(v, p, depth+1)
		})
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = item.Line
			s[i] = d.value(item, p, depth+1)
		}
		return s
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool", "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				d.fail(n.Line, path, n.Value, "is not a valid "+strings.TrimPrefix(n.ShortTag(), "!!"))
				return nil
			}
			switch v.(type) {
			case bool, int, int64, uint64, float64:
			default:
				d.fail(n.Line, path, n.Value, "is not a supported scalar")
				return nil
			}
			d.raw[path] = rawValue{n.Value, v}
			return v
		}
		// Strings, timestamps, binary and custom tags: keep the text.
		d.raw[path] = rawValue{n.Value, n.Value}
		return n.Value
	}
	d.fail(n.Line, path, "", "unsupported yaml node")
	return nil
}
