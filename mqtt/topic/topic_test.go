package topic

import (
	"slices"
	"strings"
	"testing"
)

func TestBuilders(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Data("city", "gw-001", "telemetry"), "city/gw-001/data/telemetry"},
		{Data("city/north", "gw-001", "gap"), "city/north/gw-001/data/gap"},
		{Audit("city", "gw-001"), "city/gw-001/audit"},
		{Batch("city", "gw-001", "audit"), "city/gw-001/audit"},
		{Batch("city", "gw-001", "personal"), "city/gw-001/data/personal"},
		{Receipt("city", "gw-001"), "city/gw-001/receipt"},
		{Health("a/b/c", "gw-001"), "a/b/c/gw-001/health"},
		{ConfigSet("city/north", "gw-001"), "city/north/gw-001/config/set"},
		{ConfigStatus("city", "gw-001"), "city/gw-001/config/status"},
		{Filter("city", KindData), "city/+/data/#"},
		{Filter("city/north", KindAudit), "city/north/+/audit"},
		{Filter("city", KindConfigStatus), "city/+/config/status"},
		{Topic{Prefix: "city", Gateway: "gw-1", Kind: KindData, Class: "personal"}.String(), "city/gw-1/data/personal"},
		{Topic{Prefix: "city", Gateway: "gw-1", Kind: KindConfigSet}.String(), "city/gw-1/config/set"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestFilters(t *testing.T) {
	for _, tc := range []struct {
		prefix, group string
		kinds         []Kind
		want          []string
	}{
		{"city", "", []Kind{KindData, KindAudit}, []string{"city/+/data/#", "city/+/audit"}},
		{"town/a", "ingest", []Kind{KindData, KindAudit, KindHealth, KindConfigStatus}, []string{
			"$share/ingest/town/a/+/data/#", "$share/ingest/town/a/+/audit",
			"$share/ingest/town/a/+/health", "$share/ingest/town/a/+/config/status"}},
		{"city", "g", nil, []string{}},
	} {
		if got := Filters(tc.prefix, tc.group, tc.kinds...); !slices.Equal(got, tc.want) {
			t.Errorf("Filters(%q, %q, %v) = %q, want %q", tc.prefix, tc.group, tc.kinds, got, tc.want)
		}
	}
}

// TestParseRoundTrip: every kind of topic, built under a prefix of one or
// more levels, parses back to what built it, from the end and under its
// prefix.
func TestParseRoundTrip(t *testing.T) {
	for _, prefix := range []string{"city", "city/north", "a/b/c"} {
		for _, k := range append([]Kind{KindData}, kinds...) {
			want := Topic{Prefix: prefix, Gateway: "gw-1", Kind: k}
			if k == KindData {
				want.Class = "telemetry"
			}
			s := want.String()
			if !strings.HasPrefix(s, prefix+"/gw-1/") || !strings.HasSuffix(s, "/"+string(k)) && k != KindData {
				t.Errorf("%+v.String() = %q", want, s)
			}
			end, err := Parse(s)
			if err != nil || end != want {
				t.Errorf("Parse(%q) = %+v, %v; want %+v", s, end, err, want)
			}
			under, err := ParseUnder(prefix, s)
			if err != nil || under != want {
				t.Errorf("ParseUnder(%q, %q) = %+v, %v; want %+v", prefix, s, under, err, want)
			}
		}
	}
}

// TestParse checks both parsers on the same topics: Parse from the end,
// ParseUnder under prefix "city". A zero end or under means that parser
// refuses the topic with an error that says errPart (underErr for
// ParseUnder when set).
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		topic      string
		end, under Topic
		errPart    string // in the errors of a refused topic
		underErr   string // in ParseUnder's error, when it differs
	}{
		// Multi-level prefixes: Parse finds them, ParseUnder("city")
		// sees a gateway "north" with unknown levels.
		{topic: "city/north/gw-1/data/gap",
			end:     Topic{"city/north", "gw-1", KindData, "gap"},
			errPart: "not a <prefix>/<gateway>/"},
		{topic: "a/b/c/gw-1/config/status",
			end:     Topic{"a/b/c", "gw-1", KindConfigStatus, ""},
			errPart: "not under prefix"},
		// Read from the end, audit wins over data, data over health.
		{topic: "city/gw-1/data/audit",
			end:   Topic{"city/gw-1", "data", KindAudit, ""},
			under: Topic{"city", "gw-1", KindData, "audit"}},
		{topic: "city/gw-1/data/health",
			end:   Topic{"city", "gw-1", KindData, "health"},
			under: Topic{"city", "gw-1", KindData, "health"}},
		// The prefix is not checked from the end.
		{topic: "/gw-1/data/telemetry",
			end:     Topic{"", "gw-1", KindData, "telemetry"},
			errPart: "not under prefix"},
		// Too few levels, unknown kinds.
		{topic: "gw-1/data/telemetry", errPart: "not a <prefix>", underErr: "not under prefix"},
		{topic: "gw-1/audit", errPart: "not a <prefix>", underErr: "not under prefix"},
		{topic: "city/audit", errPart: "not a <prefix>"},
		{topic: "", errPart: "not a <prefix>", underErr: "not under prefix"},
		{topic: "city/gw-1", errPart: "not a <prefix>"},
		{topic: "city/gw-1/sync", errPart: "not a <prefix>"},
		{topic: "city/gw-1/config", errPart: "not a <prefix>"},
		{topic: "city/gw-1/config/other", errPart: "not a <prefix>"},
		{topic: "city/gw-1/data/telemetry/x", errPart: "not a <prefix>", underErr: `data class "telemetry/x" contains a slash`},
		{topic: "town/gw-1/health", end: Topic{"town", "gw-1", KindHealth, ""}, errPart: "not under prefix"},
		// Empty levels and wildcards in the gateway or class level.
		{topic: "city//data/telemetry", errPart: "empty gateway id"},
		{topic: "city//config/status", errPart: "empty gateway id"},
		{topic: "city/gw-1/data/", errPart: "empty data class"},
		{topic: "city/+/audit", errPart: "gateway id \"+\" contains a wildcard"},
		{topic: "city/gw-1/data/#", errPart: "data class \"#\" contains a wildcard"},
		{topic: "city/g\x00/health", errPart: "wildcard or nul"},
	} {
		if tc.underErr == "" {
			tc.underErr = tc.errPart
		}
		for _, p := range []struct {
			name    string
			want    Topic
			errPart string
			got     Topic
			err     error
		}{
			{"Parse", tc.end, tc.errPart, Topic{}, nil},
			{"ParseUnder", tc.under, tc.underErr, Topic{}, nil},
		} {
			if p.name == "Parse" {
				p.got, p.err = Parse(tc.topic)
			} else {
				p.got, p.err = ParseUnder("city", tc.topic)
			}
			switch {
			case p.want.Kind == "" && p.err == nil:
				t.Errorf("%s(%q) = %+v, want an error", p.name, tc.topic, p.got)
			case p.want.Kind == "" && !strings.Contains(p.err.Error(), p.errPart):
				t.Errorf("%s(%q): error %q does not say %q", p.name, tc.topic, p.err, p.errPart)
			case p.want.Kind != "" && p.err != nil:
				t.Errorf("%s(%q): %v", p.name, tc.topic, p.err)
			case p.want.Kind != "" && p.got != p.want:
				t.Errorf("%s(%q) = %+v, want %+v", p.name, tc.topic, p.got, p.want)
			case p.want.Kind != "" && p.got.String() != tc.topic:
				t.Errorf("%s(%q).String() = %q", p.name, tc.topic, p.got.String())
			}
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, tc := range []struct{ prefix, err string }{
		{"city", ""},
		{"city/north", ""},
		{"a/b/c", ""},
		{"", `topic prefix "" must not be empty`},
		{"city/", `topic prefix "city/" must not have an empty level`},
		{"/city", `topic prefix "/city" must not have an empty level`},
		{"a//b", `topic prefix "a//b" must not have an empty level`},
		{"city/+", `topic prefix "city/+" must not contain '+', '#' or NUL`},
		{"city/#", `topic prefix "city/#" must not contain '+', '#' or NUL`},
		{"ci\x00ty", `must not contain '+', '#' or NUL`},
		{"$SYS/city", `topic prefix "$SYS/city" must not start with '$'`},
		{"city\n", `must not contain control characters`},
		{"city\xff", `must be valid UTF-8`},
	} {
		err := CheckPrefix(tc.prefix)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckPrefix(%q) = %v, want %q", tc.prefix, err, tc.err)
		}
	}
}

func TestCheckLevel(t *testing.T) {
	for _, tc := range []struct{ level, err string }{
		{"gw-001", ""},
		{"", "empty gateway id"},
		{"gw/1", `gateway id "gw/1" contains a slash`},
		{"gw+", `gateway id "gw+" contains a wildcard or nul`},
		{"#", `gateway id "#" contains a wildcard or nul`},
	} {
		err := CheckLevel("gateway id", tc.level)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || err.Error() != tc.err) {
			t.Errorf("CheckLevel(%q) = %v, want %q", tc.level, err, tc.err)
		}
	}
}
