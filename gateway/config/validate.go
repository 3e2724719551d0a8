package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/edgegw/edgegw/crypto/keys"
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
	c    *Config
	skip map[string]bool
	errs []error
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

// required checks that the string at path is set.
func (k *checker) required(path, s string) bool {
	if s != "" {
		return true
	}
	if k.present(path) {
		k.fail(path, nil, "must not be empty")
	} else {
		k.fail(path, nil, "missing required field")
	}
	return false
}

// durRange checks lo ≤ d ≤ hi; hi < 0 means no upper bound.
func (k *checker) durRange(path string, d, lo, hi time.Duration) {
	switch {
	case hi < 0 && d < lo:
		k.fail(path, d, "must be at least "+fmtDur(lo))
	case hi >= 0 && (d < lo || d > hi):
		k.fail(path, d, "is outside "+fmtDur(lo)+".."+fmtDur(hi))
	}
}

func (k *checker) intRange(path string, n, lo, hi int) {
	if n < lo || n > hi {
		k.fail(path, n, fmt.Sprintf("is outside %d..%d", lo, hi))
	}
}

// fmtDur formats round durations the way people write them: 24h, 5m, 1s.
func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// check validates c; paths in skip, and the fields under them, already
// failed to decode.
func (c *Config) check(known func(string) bool, skip map[string]bool) []error {
	if c == nil {
		return []error{errors.New("config is nil")}
	}
	k := &checker{c: c, skip: skip}

	g := c.Gateway
	if k.required("gateway.id", g.ID) && keys.ValidateGatewayID(g.ID) != nil {
		k.fail("gateway.id", g.ID, "must match "+keys.GatewayIDForm)
	}
	k.path("gateway.keys", g.Keys)
	k.path("gateway.state", g.State)

	u := c.Uplink
	if k.required("uplink.broker", u.Broker) {
		if msg := checkBroker(u.Broker); msg != "" {
			k.fail("uplink.broker", u.Broker, msg)
		}
	}
	k.path("uplink.ca", u.CA)
	k.path("uplink.cert", u.Cert)
	k.path("uplink.key", u.Key)
	if k.required("uplink.topic_prefix", u.TopicPrefix) {
		if msg := checkTopicLevel(u.TopicPrefix); msg != "" {
			k.fail("uplink.topic_prefix", u.TopicPrefix, msg)
		}
	}
	if u.ClientID != "" {
		if len(u.ClientID) > 256 || !utf8.ValidString(u.ClientID) || strings.IndexFunc(u.ClientID, unicode.IsControl) >= 0 {
			k.fail("uplink.client_id", u.ClientID, "must be at most 256 bytes of printable utf-8")
		}
	}
	k.durRange("uplink.keepalive", u.Keepalive, 5*time.Second, 20*time.Minute)
	k.intRange("uplink.inflight", u.Inflight, 1, 1024)
	k.durRange("uplink.backoff_min", u.BackoffMin, time.Millisecond, -1)
	if u.BackoffMax < u.BackoffMin && !k.skip["uplink.backoff_min"] {
		k.fail("uplink.backoff_max", u.BackoffMax, "must be at least uplink.backoff_min ("+u.BackoffMin.String()+")")
	}
	k.durRange("uplink.health_interval", u.HealthInterval, time.Second, -1)

	for _, class := range slices.Sorted(maps.Keys(c.Recipients)) {
		p := "recipients." + class
		switch {
		case class == ReservedClass:
			k.fail(p, nil, "class name "+strconv.Quote(class)+" is reserved")
		case !classRE.MatchString(class):
			k.fail(p, nil, "class name "+strconv.Quote(class)+" must match [a-z][a-z0-9-]{0,31}")
		}
		k.path(p, c.Recipients[class])
	}

	k.intRange("batch.max_readings", c.Batch.MaxReadings, 1, 10000)
	k.intRange("quality.humid_rh", c.Quality.HumidRH, 1, 100)
	k.durRange("fleet.probation", c.Fleet.Probation, 10*time.Second, time.Hour)
	if c.Control.Socket != "off" && !strings.HasPrefix(c.Control.Socket, "/") {
		k.fail("control.socket", c.Control.Socket, `must be an absolute path or "off"`)
	}
	for path, g := range map[string]string{"control.viewer_group": c.Control.ViewerGroup, "control.technician_group": c.Control.TechnicianGroup, "control.admin_group": c.Control.AdminGroup} {
		k.required(path, g)
	}
	k.durRange("batch.max_delay", c.Batch.MaxDelay, 100*time.Millisecond, time.Hour)
	k.durRange("batch.durability", c.Batch.Durability, 0, time.Minute)

	if c.Buffer.MaxBytes < 64<<10 {
		k.fail("buffer.max_bytes", c.Buffer.MaxBytes, "must be at least 64KiB")
	}
	k.durRange("buffer.max_age", c.Buffer.MaxAge, time.Minute, -1)

	if !logLevel[c.Log.Level] {
		k.fail("log.level", c.Log.Level, "must be debug, info, warn or error")
	}

	names := map[string]int{}
	for i, d := range c.Devices {
		p := fmt.Sprintf("devices[%d]", i)
		if k.required(p+".name", d.Name) {
			if !nameRE.MatchString(d.Name) {
				k.fail(p+".name", d.Name, "must match [a-z0-9][a-z0-9_-]{0,31}")
			} else if first, dup := names[d.Name]; dup {
				k.fail(p+".name", d.Name, fmt.Sprintf("duplicates devices[%d].name", first))
			} else {
				names[d.Name] = i
			}
		}
		if k.required(p+".driver", d.Driver) {
			if !nameRE.MatchString(d.Driver) {
				k.fail(p+".driver", d.Driver, "must match [a-z0-9][a-z0-9_-]{0,31}")
			} else if known != nil && !known(d.Driver) {
				k.fail(p+".driver", d.Driver, "is not a known driver")
			}
		}
		if d.Interval == 0 && !k.present(p+".interval") {
			k.fail(p+".interval", nil, "missing required field")
		} else {
			k.durRange(p+".interval", d.Interval, 100*time.Millisecond, 24*time.Hour)
		}
		if k.required(p+".class", d.Class) {
			switch _, ok := c.Recipients[d.Class]; {
			case d.Class == ReservedClass:
				k.fail(p+".class", d.Class, "is reserved")
			case !ok:
				k.fail(p+".class", d.Class, "has no entry in recipients")
			}
		}
	}
	return k.errs
}

// path checks a file or directory name.
func (k *checker) path(p, s string) {
	if k.required(p, s) && strings.IndexByte(s, 0) >= 0 {
		k.fail(p, s, "must not contain NUL")
	}
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

// checkTopicLevel returns what is wrong with an MQTT topic level, or "".
func checkTopicLevel(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid utf-8"
	case strings.ContainsAny(s, "+#/\x00"):
		return "must not contain '+', '#', '/' or NUL"
	case strings.HasPrefix(s, "$"):
		return "must not start with '$'"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "must not contain control characters"
	}
	return ""
}
