package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The configuration's schema is the Config type itself: decoding, validation
// and the canonical form walk its fields by reflection, guided by these
// struct tags:
//
//	yaml:"key"            the field's key in the file; "-" keeps it out of
//	                      the file. Every exported field needs one.
//	                      ",omitempty" leaves an empty value out of the
//	                      canonical form.
//	unit:"bytes"          an int64 written as a size, such as 256MiB.
//	check:"a,b"           checks run in order: "required" stops the others
//	                      when the field is empty or missing; any other name
//	                      is a function of fieldChecks.
//	range:"lo..hi"        bounds of a duration or integer, in its own syntax.
//	min:"lo"              lower bound of a duration, integer or size.
//	atleast:"key"         not below the sibling field with that key.
//	oneof:"a b c"         the allowed values of a string.
//	line:"" / line:"key"  an int filled with the line of the struct's own
//	                      node, or of its key "key"; 0 when absent.
//
// Adding a field to the configuration means adding it, with its tags, to one
// of these types (and its default, if any, to defaults).

// kind is how a field is written in the file.
type kind int

const (
	kindString    kind = iota // a scalar kept as text
	kindDuration              // time.Duration in Go syntax
	kindInt                   // int
	kindUint                  // uint64
	kindBytes                 // int64 with unit:"bytes"
	kindStruct                // a nested section: a mapping of known keys
	kindStrings               // []string: a sequence of text scalars
	kindStructs               // []T for a struct T: a sequence of mappings
	kindStringMap             // map[string]string: free keys to text
	kindOptions               // map[string]any: free-form, checked elsewhere
)

// field is one configuration field described by its tags.
type field struct {
	index     int
	key       string
	omitempty bool
	kind      kind
	elem      reflect.Type // the struct type of kindStruct and kindStructs
	checks    []string
	lo, hi    int64  // bounds from range or min
	bounds    string // the range or min tag as written, for messages
	hasLo     bool
	hasHi     bool
	atleast   string
	oneof     []string
}

// lineField is an int field filled with a line number.
type lineField struct {
	index int
	key   string // "" for the struct's own line
}

// schema describes the fields of one struct type.
type schema struct {
	fields []field
	lines  []lineField
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	schemas      = map[reflect.Type]*schema{}
	_            = schemaOf(reflect.TypeFor[Config]()) // check every tag at start
)

// schemaOf returns the schema of struct type t and of the structs it holds.
// A malformed tag is a programming error: it panics when the package is
// initialised.
func schemaOf(t reflect.Type) *schema {
	if s, ok := schemas[t]; ok {
		return s
	}
	s := &schema{}
	schemas[t] = s
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		if l, ok := sf.Tag.Lookup("line"); ok {
			s.lines = append(s.lines, lineField{index: i, key: l})
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			panic(fmt.Sprintf("config: %s.%s has no yaml tag", t.Name(), sf.Name))
		}
		f := field{index: i, key: name, omitempty: opts == "omitempty", atleast: sf.Tag.Get("atleast")}
		f.kind, f.elem = kindOf(sf)
		if f.elem != nil {
			schemaOf(f.elem)
		}
		if c := sf.Tag.Get("check"); c != "" {
			f.checks = strings.Split(c, ",")
			for _, name := range f.checks {
				if _, ok := fieldChecks[name]; !ok && name != "required" {
					panic(fmt.Sprintf("config: %s.%s: unknown check %q", t.Name(), sf.Name, name))
				}
			}
		}
		if o := sf.Tag.Get("oneof"); o != "" {
			f.oneof = strings.Fields(o)
		}
		if r, ok := sf.Tag.Lookup("range"); ok {
			lo, hi, _ := strings.Cut(r, "..")
			f.lo, f.hi = f.bound(t, sf, lo), f.bound(t, sf, hi)
			f.bounds, f.hasLo, f.hasHi = r, true, true
		}
		if m, ok := sf.Tag.Lookup("min"); ok {
			f.lo, f.bounds, f.hasLo = f.bound(t, sf, m), m, true
		}
		s.fields = append(s.fields, f)
	}
	for _, f := range s.fields {
		if f.atleast != "" && s.byKey(f.atleast) == nil {
			panic(fmt.Sprintf("config: %s.%s: atleast names no field %q", t.Name(), t.Field(f.index).Name, f.atleast))
		}
	}
	return s
}

// kindOf returns how field sf is written, and the struct type it holds.
func kindOf(sf reflect.StructField) (kind, reflect.Type) {
	t := sf.Type
	switch {
	case t == durationType:
		return kindDuration, nil
	case t.Kind() == reflect.String:
		return kindString, nil
	case t.Kind() == reflect.Int:
		return kindInt, nil
	case t.Kind() == reflect.Uint64:
		return kindUint, nil
	case t.Kind() == reflect.Int64 && sf.Tag.Get("unit") == "bytes":
		return kindBytes, nil
	case t.Kind() == reflect.Struct:
		return kindStruct, t
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return kindStrings, nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return kindStructs, t.Elem()
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String:
		return kindStringMap, nil
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.Interface:
		return kindOptions, nil
	}
	panic(fmt.Sprintf("config: field %s of type %s has no kind", sf.Name, t))
}

// bound parses one bound of a range or min tag in the field's own syntax.
func (f *field) bound(t reflect.Type, sf reflect.StructField, s string) int64 {
	var n int64
	var err error
	switch f.kind {
	case kindDuration:
		var d time.Duration
		d, err = time.ParseDuration(s)
		n = int64(d)
	case kindInt:
		n, err = strconv.ParseInt(s, 10, 64)
	case kindBytes:
		n, err = ParseSize(s)
	default:
		err = fmt.Errorf("%s fields have no bounds", sf.Type)
	}
	if err != nil {
		panic(fmt.Sprintf("config: %s.%s: bound %q: %v", t.Name(), sf.Name, s, err))
	}
	return n
}

// sortedFields returns s's fields in the byte order of their keys.
func (s *schema) sortedFields() []field {
	fs := slices.Clone(s.fields)
	slices.SortFunc(fs, func(a, b field) int { return strings.Compare(a.key, b.key) })
	return fs
}

// byKey returns the field with key, or nil.
func (s *schema) byKey(key string) *field {
	for i := range s.fields {
		if s.fields[i].key == key {
			return &s.fields[i]
		}
	}
	return nil
}
