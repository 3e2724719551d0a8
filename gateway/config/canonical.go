package config

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// optionNode encodes a free-form value with sorted mapping keys and floats
// that stay floats when parsed again (1000.0, not 1000).
func optionNode(v any) (*yaml.Node, error) {
	switch v := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			kn, err := optionNode(k)
			if err != nil {
				return nil, err
			}
			vn, err := optionNode(v[k])
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, kn, vn)
		}
		return n, nil
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, item := range v {
			in, err := optionNode(item)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, in)
		}
		return n, nil
	case float64:
		s := strconv.FormatFloat(v, 'g', -1, 64)
		switch {
		case math.IsNaN(v):
			s = ".nan"
		case math.IsInf(v, 1):
			s = ".inf"
		case math.IsInf(v, -1):
			s = "-.inf"
		case !strings.ContainsAny(s, ".e"):
			s += ".0"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: s}, nil
	case nil, string, bool, int, int64, uint64:
		n := &yaml.Node{}
		if err := n.Encode(v); err != nil {
			return nil, err
		}
		return n, nil
	}
	return nil, fmt.Errorf("unsupported option value of type %T", v)
}

// Canonical returns c re-encoded deterministically as YAML: every field
// written out with its value (defaults included), mapping keys in sorted
// order, durations in Go syntax, sizes in bytes, no comments, 2-space
// indentation. Parsing the result gives a Config equal to c except for File
// and line numbers. It is the form fleet operations sign.
func (c *Config) Canonical() ([]byte, error) {
	n, err := canonNode(reflect.ValueOf(c).Elem())
	if err != nil {
		return nil, fmt.Errorf("encode canonical config: %w", err)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("encode canonical config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode canonical config: %w", err)
	}
	return b.Bytes(), nil
}

// canonNode encodes the struct v as a mapping of every field its schema
// names, in sorted key order.
func canonNode(v reflect.Value) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, f := range schemaOf(v.Type()).sortedFields() {
		fv := v.Field(f.index)
		if f.omitempty && (fv.IsZero() || fv.Kind() == reflect.Map && fv.Len() == 0) {
			continue
		}
		var vn *yaml.Node
		var err error
		switch f.kind {
		case kindDuration:
			vn, err = optionNode(fv.Interface().(time.Duration).String())
		case kindStruct:
			vn, err = canonNode(fv)
		case kindStructs:
			vn = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for i := range fv.Len() {
				in, err := canonNode(fv.Index(i))
				if err != nil {
					return nil, err
				}
				vn.Content = append(vn.Content, in)
			}
		case kindStrings:
			vn = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for _, s := range fv.Interface().([]string) {
				sn, err := optionNode(s)
				if err != nil {
					return nil, err
				}
				vn.Content = append(vn.Content, sn)
			}
		case kindStringMap:
			m := map[string]any{}
			for k, s := range fv.Interface().(map[string]string) {
				m[k] = s
			}
			vn, err = optionNode(m)
		case kindOptions:
			vn, err = optionNode(fv.Interface().(map[string]any))
		default:
			vn, err = optionNode(fv.Interface())
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.key, err)
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.key}, vn)
	}
	return n, nil
}
