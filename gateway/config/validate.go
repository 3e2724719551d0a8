package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/mqtt/topic"
)

// Validate checks c as Parse does, and, when known is not nil, also that
// known(d.Driver) is true for every device d, so that the caller can reject
// driver kinds its binary does not link. Like Parse, it reports every problem
// as *FieldError values joined with errors.Join, positioned in c.File when c
// came from Parse or Load. It does no I/O: files named by c are not opened.
func (c *Config) Validate(known func(driver string) bool) error {
	if errs := c.check(known, nil); len(errs) > 0 {
		return joinSorted(errs)
	}
	return nil
}

// checker collects validation errors with their positions.
type checker struct {
	c     *Config
	known func(driver string) bool
	skip  map[string]bool
	names map[string]string // device name → path of its first device
	errs  []error
}

// line returns the line of path, or of its nearest enclosing field present in
// the file: a missing field is reported on its parent mapping.
func (k *checker) line(path string) int {
	for p := path; ; p = parent(p) {
		if l, ok := k.c.lines[p]; ok {
			return l
		}
		if p == "" {
			return 0
		}
	}
}

// fail records an error about path and its value (nil for none).
func (k *checker) fail(path string, value any, msg string) {
	for p := path; p != ""; p = parent(p) {
		if k.skip[p] {
			return // already reported while decoding
		}
	}
	k.errs = append(k.errs, &FieldError{File: k.c.File, Line: k.line(path), Path: path, Value: k.c.show(path, value), Msg: msg})
}

// present reports whether path was written in the file.
func (k *checker) present(path string) bool {
	_, ok := k.c.lines[path]
	return ok
}

// check validates c; paths in skip, and the fields under them, already
// failed to decode.
func (c *Config) check(known func(string) bool, skip map[string]bool) []error {
	if c == nil {
		return []error{errors.New("config is nil")}
	}
	k := &checker{c: c, known: known, skip: skip, names: map[string]string{}}
	k.structure("", reflect.ValueOf(c).Elem())
	return k.errs
}

// structure checks the fields of struct v at path as its schema says, in
// field order.
func (k *checker) structure(path string, v reflect.Value) {
	for _, f := range schemaOf(v.Type()).fields {
		p, fv := join(path, f.key), v.Field(f.index)
		switch f.kind {
		case kindStruct:
			k.structure(p, fv)
		case kindStructs:
			for i := range fv.Len() {
				k.structure(fmt.Sprintf("%s[%d]", p, i), fv.Index(i))
			}
		case kindStrings:
			for i := range fv.Len() {
				k.field(&f, fmt.Sprintf("%s[%d]", p, i), fv.Index(i), path, v)
			}
		default:
			k.field(&f, p, fv, path, v)
		}
	}
}

// field runs the checks of field f, whose value at path p is v, in the
// struct parent at parentPath.
func (k *checker) field(f *field, p string, v reflect.Value, parentPath string, parent reflect.Value) {
	for _, name := range f.checks {
		if name == "required" {
			if !k.required(p, v) {
				return
			}
			continue
		}
		fieldChecks[name](k, p, v)
	}
	switch {
	case f.hasHi && (v.Int() < f.lo || v.Int() > f.hi):
		k.fail(p, v.Interface(), "is outside "+f.bounds)
	case !f.hasHi && f.hasLo && v.Int() < f.lo:
		k.fail(p, v.Interface(), "must be at least "+f.bounds)
	case f.oneof != nil && !slices.Contains(f.oneof, v.String()):
		last := len(f.oneof) - 1
		k.fail(p, v.Interface(), "must be "+strings.Join(f.oneof[:last], ", ")+" or "+f.oneof[last])
	}
	if f.atleast != "" {
		op := join(parentPath, f.atleast)
		other := parent.Field(schemaOf(parent.Type()).byKey(f.atleast).index)
		if v.Int() < other.Int() && !k.skip[op] {
			k.fail(p, v.Interface(), "must be at least "+op+" ("+fmt.Sprint(other.Interface())+")")
		}
	}
}

// required checks that the value at path is set: a string must not be
// empty, and a value of another kind must be written in the file when it is
// zero.
func (k *checker) required(path string, v reflect.Value) bool {
	switch {
	case v.Kind() == reflect.String && v.String() == "" && k.present(path):
		k.fail(path, nil, "must not be empty")
	case v.IsZero() && (v.Kind() == reflect.String || !k.present(path)):
		k.fail(path, nil, "missing required field")
	default:
		return true
	}
	return false
}

// fieldChecks are the checks a check tag names, besides "required".
var fieldChecks = map[string]func(k *checker, path string, v reflect.Value){
	"path":        (*checker).path,
	"gatewayid":   func(k *checker, path string, v reflect.Value) { k.msg(path, v, checkGatewayID) },
	"broker":      func(k *checker, path string, v reflect.Value) { k.msg(path, v, checkBroker) },
	"topicprefix": func(k *checker, path string, v reflect.Value) { k.msg(path, v, topic.PrefixProblem) },
	"clientid":    func(k *checker, path string, v reflect.Value) { k.msg(path, v, checkClientID) },
	"socket":      func(k *checker, path string, v reflect.Value) { k.msg(path, v, checkSocket) },
	"recipients":  (*checker).recipients,
	"devicename":  (*checker).deviceName,
	"driver":      (*checker).driver,
	"class":       (*checker).class,
}

// msg fails path when check finds something wrong with its string v.
func (k *checker) msg(path string, v reflect.Value, check func(string) string) {
	if msg := check(v.String()); msg != "" {
		k.fail(path, v.String(), msg)
	}
}

// path checks a file or directory name.
func (k *checker) path(p string, v reflect.Value) {
	if k.required(p, v) && strings.IndexByte(v.String(), 0) >= 0 {
		k.fail(p, v.String(), "must not contain NUL")
	}
}

// recipients checks the data class names and the files of their keys.
func (k *checker) recipients(path string, v reflect.Value) {
	m := v.Interface().(map[string]string)
	for _, class := range slices.Sorted(maps.Keys(m)) {
		p := join(path, class)
		switch {
		case class == ReservedClass:
			k.fail(p, nil, "class name "+strconv.Quote(class)+" is reserved")
		case !classRE.MatchString(class):
			k.fail(p, nil, "class name "+strconv.Quote(class)+" must match [a-z][a-z0-9-]{0,31}")
		}
		k.path(p, reflect.ValueOf(m[class]))
	}
}

// deviceName checks a device name, unique among the devices.
func (k *checker) deviceName(path string, v reflect.Value) {
	name := v.String()
	if !nameRE.MatchString(name) {
		k.fail(path, name, "must match "+NamePattern)
	} else if first, dup := k.names[name]; dup {
		k.fail(path, name, "duplicates "+first+".name")
	} else {
		k.names[name] = parent(path)
	}
}

// driver checks a driver kind, and that the caller of Validate knows it.
func (k *checker) driver(path string, v reflect.Value) {
	if d := v.String(); !nameRE.MatchString(d) {
		k.fail(path, d, "must match "+NamePattern)
	} else if k.known != nil && !k.known(d) {
		k.fail(path, d, "is not a known driver")
	}
}

// class checks that a device's data class has a recipient.
func (k *checker) class(path string, v reflect.Value) {
	switch _, ok := k.c.Recipients[v.String()]; {
	case v.String() == ReservedClass:
		k.fail(path, v.String(), "is reserved")
	case !ok:
		k.fail(path, v.String(), "has no entry in recipients")
	}
}

// checkGatewayID returns what is wrong with a gateway id, or "".
func checkGatewayID(s string) string {
	if !keys.IsGatewayID(s) {
		return "must match " + keys.GatewayIDForm
	}
	return ""
}

// checkClientID returns what is wrong with an MQTT client id, or "".
func checkClientID(s string) string {
	if s != "" && (len(s) > 256 || !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0) {
		return "must be at most 256 bytes of printable utf-8"
	}
	return ""
}

// checkSocket returns what is wrong with the control socket's path, or "".
func checkSocket(s string) string {
	if s != "off" && !strings.HasPrefix(s, "/") {
		return `must be an absolute path or "off"`
	}
	return ""
}

// checkBroker returns what is wrong with a broker address, or "".
func checkBroker(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return "is not a url like ssl://host:8883"
	}
	switch u.Scheme {
	case "ssl", "tls", "mqtts":
	default:
		return "scheme must be ssl://, tls:// or mqtts:// (tls is mandatory)"
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "must be scheme://host:port only"
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return "must name host:port"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "port must be 1..65535"
	}
	return ""
}
