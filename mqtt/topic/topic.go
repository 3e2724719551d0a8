package topic

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is what a topic carries: the levels after the gateway id, but for
// KindData, whose topics add the data class as one more level.
type Kind string

// The kinds of topic under <prefix>/<gateway id>/.
const (
	KindData         Kind = "data"          // data/<class>: envelopes of a data class
	KindAudit        Kind = "audit"         // envelopes of class audit
	KindReceipt      Kind = "receipt"       // signed receipts, retained
	KindHealth       Kind = "health"        // the health document, retained
	KindConfigSet    Kind = "config/set"    // signed configuration documents, retained
	KindConfigStatus Kind = "config/status" // the configuration status, retained
)

// kinds are the kinds other than KindData.
var kinds = []Kind{KindAudit, KindConfigSet, KindConfigStatus, KindHealth, KindReceipt}

// Topic is a parsed topic.
type Topic struct {
	Prefix  string // the levels before the gateway id
	Gateway string // the gateway id level
	Kind    Kind
	Class   string // the data class of a KindData topic; empty otherwise
}

// String returns the topic t names.
func (t Topic) String() string {
	if t.Kind == KindData {
		return Data(t.Prefix, t.Gateway, t.Class)
	}
	return join(t.Prefix, t.Gateway, t.Kind)
}

func join(prefix, gateway string, k Kind) string { return prefix + "/" + gateway + "/" + string(k) }

// Data returns <prefix>/<gateway>/data/<class>, where a gateway publishes its
// envelopes of class (gap records included, audit records excepted).
func Data(prefix, gateway, class string) string {
	return prefix + "/" + gateway + "/" + string(KindData) + "/" + class
}

// Batch returns the topic a gateway publishes its batches of class on: Audit
// for class audit (its audit records), Data for any other class.
func Batch(prefix, gateway, class string) string {
	if class == string(KindAudit) {
		return Audit(prefix, gateway)
	}
	return Data(prefix, gateway, class)
}

// Audit returns <prefix>/<gateway>/audit, where a gateway publishes its
// audit records.
func Audit(prefix, gateway string) string { return join(prefix, gateway, KindAudit) }

// Receipt returns <prefix>/<gateway>/receipt, where the backend's ingest
// publishes the gateway's receipts, retained.
func Receipt(prefix, gateway string) string { return join(prefix, gateway, KindReceipt) }

// Health returns <prefix>/<gateway>/health, where a gateway publishes its
// health document, retained, and its last will.
func Health(prefix, gateway string) string { return join(prefix, gateway, KindHealth) }

// ConfigSet returns <prefix>/<gateway>/config/set, where fleet operations
// publish signed documents for the gateway, retained.
func ConfigSet(prefix, gateway string) string { return join(prefix, gateway, KindConfigSet) }

// ConfigStatus returns <prefix>/<gateway>/config/status, where a gateway
// publishes its configuration status, retained.
func ConfigStatus(prefix, gateway string) string { return join(prefix, gateway, KindConfigStatus) }

// Filter returns the subscription filter of every gateway's topics of kind
// k under prefix: <prefix>/+/data/# for KindData, <prefix>/+/<kind>
// otherwise.
func Filter(prefix string, k Kind) string {
	if k == KindData {
		return Data(prefix, "+", "#")
	}
	return join(prefix, "+", k)
}

// Filters returns the filters of kinds under prefix, each through the shared
// subscription group ($share/<group>/<filter>) unless group is empty.
func Filters(prefix, group string, kinds ...Kind) []string {
	f := make([]string, len(kinds))
	for i, k := range kinds {
		f[i] = Filter(prefix, k)
		if group != "" {
			f[i] = "$share/" + group + "/" + f[i]
		}
	}
	return f
}

// Parse reads topic from its end: <prefix>/<gateway>/<kind levels>, where
// the prefix is everything before the gateway level, at least one level,
// and is not checked (see CheckPrefix). The gateway id and class levels must
// be non-empty and hold no wildcard or nul.
//
// Read from the end, a few topics could be read two ways; Parse decides: a
// topic ending in /audit is an audit topic (class audit never travels under
// data/), and one whose level before the last is data is a data topic (so a
// class may be named health or receipt).
func Parse(topic string) (Topic, error) {
	levels := strings.Split(topic, "/")
	n := len(levels)
	var t Topic
	var gw int // index of the gateway level
	switch {
	case n >= 3 && levels[n-1] == string(KindAudit):
		t.Kind, gw = KindAudit, n-2
	case n >= 4 && levels[n-2] == string(KindData):
		t.Kind, t.Class, gw = KindData, levels[n-1], n-3
	default:
		for _, k := range kinds {
			kl := strings.Count(string(k), "/") + 1
			if n >= kl+2 && strings.Join(levels[n-kl:], "/") == string(k) {
				t.Kind, gw = k, n-kl-1
				break
			}
		}
		if t.Kind == "" {
			return Topic{}, fmt.Errorf("topic %q: not a %s", topic, layout)
		}
	}
	t.Prefix, t.Gateway = strings.Join(levels[:gw], "/"), levels[gw]
	return t, t.check(topic)
}

// layout names the topic layout in errors.
const layout = "<prefix>/<gateway>/{data/<class>,audit,receipt,health,config/set,config/status} topic"

// ParseUnder reads topic under the known prefix:
// <prefix>/<gateway>/<kind levels>, exactly one of the layout's. The
// gateway id and class levels must be non-empty and hold no wildcard or nul.
func ParseUnder(prefix, topic string) (Topic, error) {
	rest, ok := strings.CutPrefix(topic, prefix+"/")
	if !ok {
		return Topic{}, fmt.Errorf("topic %q: not under prefix %q", topic, prefix)
	}
	gw, levels, _ := strings.Cut(rest, "/")
	t := Topic{Prefix: prefix, Gateway: gw}
	if class, ok := strings.CutPrefix(levels, string(KindData)+"/"); ok {
		t.Kind, t.Class = KindData, class
	} else {
		for _, k := range kinds {
			if levels == string(k) {
				t.Kind = k
			}
		}
		if t.Kind == "" {
			return Topic{}, fmt.Errorf("topic %q: not a %s", topic, layout)
		}
	}
	return t, t.check(topic)
}

// check refuses a parsed topic whose gateway or class level is malformed.
func (t Topic) check(topic string) error {
	if err := CheckLevel("gateway id", t.Gateway); err != nil {
		return fmt.Errorf("topic %q: %w", topic, err)
	}
	if t.Kind == KindData {
		if err := CheckLevel("data class", t.Class); err != nil {
			return fmt.Errorf("topic %q: %w", topic, err)
		}
	}
	return nil
}

// CheckLevel returns an error unless s, a gateway id or data class named
// what in the error, is one usable topic level: not empty, without wildcard,
// nul or slash.
func CheckLevel(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s", what)
	case strings.ContainsAny(s, "+#\x00"):
		return fmt.Errorf("%s %q contains a wildcard or nul", what, s)
	case strings.Contains(s, "/"):
		return fmt.Errorf("%s %q contains a slash", what, s)
	}
	return nil
}

// PrefixProblem says what is wrong with prefix as a topic prefix, as a
// phrase to follow its name ("must not ..."), or "" when it is usable: one
// or more non-empty levels of valid UTF-8 without wildcards, NUL or control
// characters, not starting with '$' (the broker's own topics).
func PrefixProblem(prefix string) string {
	switch {
	case prefix == "":
		return "must not be empty"
	case !utf8.ValidString(prefix):
		return "must be valid UTF-8"
	case strings.ContainsAny(prefix, "+#\x00"):
		return "must not contain '+', '#' or NUL"
	case strings.HasPrefix(prefix, "/") || strings.HasSuffix(prefix, "/") || strings.Contains(prefix, "//"):
		return "must not have an empty level (a leading, trailing or doubled '/')"
	case strings.HasPrefix(prefix, "$"):
		return "must not start with '$'"
	case strings.IndexFunc(prefix, unicode.IsControl) >= 0:
		return "must not contain control characters"
	}
	return ""
}

// CheckPrefix returns an error naming prefix and PrefixProblem's phrase
// unless prefix is a usable topic prefix.
func CheckPrefix(prefix string) error {
	if p := PrefixProblem(prefix); p != "" {
		return fmt.Errorf("topic prefix %q %s", prefix, p)
	}
	return nil
}
