package config

import (
	"errors"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers"
	_ "github.com/edgegw/edgegw/drivers/all" // the kinds the examples use
	"github.com/edgegw/edgegw/internal/must"
)

// base is a small valid configuration; its line numbers are used below.
const base = `gateway:
  id: gw-001
uplink:
  broker: ssl://broker.example.net:8883
  ca: /etc/edgegw/ca.pem
  cert: /etc/edgegw/client.pem
  key: /etc/edgegw/client.key
recipients:
  telemetry: /etc/edgegw/ops.pub
devices:
  - name: aq-1
    driver: sim
    interval: 5s
    class: telemetry
`

// edit returns base with old replaced by new, failing if old is absent.
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(base, old) {
		t.Fatalf("base has no %q", old)
	}
	return strings.Replace(base, old, new, 1)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   func(t *testing.T) string
		want []string // each a substring of one error line, in line order
	}{
		{
			name: "unknown top-level field",
			in:   func(t *testing.T) string { return base + "extra: 1\n" },
			want: []string{"t.yaml:15: extra: unknown field"},
		},
		{
			name: "unknown field at depth",
			in:   func(t *testing.T) string { return edit(t, "  broker:", "  brokr:") },
			want: []string{
				"t.yaml:3: uplink.broker: missing required field",
				"t.yaml:4: uplink.brokr: unknown field",
			},
		},
		{
			name: "unknown device field",
			in: func(t *testing.T) string {
				return edit(t, "    class: telemetry\n", "    class: telemetry\n    adress: 0x76\n")
			},
			want: []string{"t.yaml:15: devices[0].adress: unknown field"},
		},
		{
			name: "bad duration",
			in:   func(t *testing.T) string { return edit(t, "interval: 5s", "interval: 5x") },
			want: []string{`t.yaml:13: devices[0].interval: "5x" is not a duration`},
		},
		{
			name: "duration without unit",
			in:   func(t *testing.T) string { return base + "batch: {max_delay: 10}\n" },
			want: []string{`t.yaml:15: batch.max_delay: "10" is not a duration`},
		},
		{
			name: "duration out of range",
			in:   func(t *testing.T) string { return edit(t, "interval: 5s", "interval: 50ms") },
			want: []string{`t.yaml:13: devices[0].interval: "50ms" is outside 100ms..24h`},
		},
		{
			name: "bad size",
			in:   func(t *testing.T) string { return base + "buffer:\n  max_bytes: 12XB\n" },
			want: []string{`t.yaml:16: buffer.max_bytes: "12XB" is not a size`},
		},
		{
			name: "size too small",
			in:   func(t *testing.T) string { return base + "buffer:\n  max_bytes: 1KiB\n" },
			want: []string{`t.yaml:16: buffer.max_bytes: "1KiB" must be at least 64KiB`},
		},
		{
			name: "size overflow",
			in:   func(t *testing.T) string { return base + "buffer:\n  max_bytes: 99999999999GiB\n" },
			want: []string{`t.yaml:16: buffer.max_bytes: "99999999999GiB" is not a size`},
		},
		{
			name: "missing required gateway id",
			in:   func(t *testing.T) string { return edit(t, "  id: gw-001\n", "  keys: /k\n") },
			want: []string{"t.yaml:1: gateway.id: missing required field"},
		},
		{
			name: "missing gateway section",
			in:   func(t *testing.T) string { return edit(t, "gateway:\n  id: gw-001\n", "") },
			want: []string{"t.yaml:1: gateway.id: missing required field"},
		},
		{
			name: "missing device interval and class",
			in: func(t *testing.T) string {
				return edit(t, "    interval: 5s\n    class: telemetry\n", "")
			},
			want: []string{
				"t.yaml:11: devices[0].interval: missing required field",
				"t.yaml:11: devices[0].class: missing required field",
			},
		},
		{
			name: "empty required value",
			in:   func(t *testing.T) string { return edit(t, "  ca: /etc/edgegw/ca.pem", `  ca: ""`) },
			want: []string{"t.yaml:5: uplink.ca: must not be empty"},
		},
		{
			name: "plain tcp broker rejected",
			in: func(t *testing.T) string {
				return edit(t, "ssl://broker.example.net:8883", "tcp://broker.example.net:1883")
			},
			want: []string{`t.yaml:4: uplink.broker: "tcp://broker.example.net:1883" scheme must be ssl://, tls:// or mqtts:// (tls is mandatory)`},
		},
		{
			name: "broker without port",
			in: func(t *testing.T) string {
				return edit(t, "ssl://broker.example.net:8883", "mqtts://broker.example.net")
			},
			want: []string{`t.yaml:4: uplink.broker: "mqtts://broker.example.net" must name host:port`},
		},
		{
			name: "broker with path",
			in:   func(t *testing.T) string { return edit(t, "ssl://broker.example.net:8883", "tls://broker:8883/mqtt") },
			want: []string{`t.yaml:4: uplink.broker: "tls://broker:8883/mqtt" must be scheme://host:port only`},
		},
		{
			name: "duplicate device names",
			in: func(t *testing.T) string {
				return base + "  - name: aq-1\n    driver: sim\n    interval: 1s\n    class: telemetry\n"
			},
			want: []string{`t.yaml:15: devices[1].name: "aq-1" duplicates devices[0].name`},
		},
		{
			name: "class without recipient",
			in:   func(t *testing.T) string { return edit(t, "class: telemetry", "class: personal") },
			want: []string{`t.yaml:14: devices[0].class: "personal" has no entry in recipients`},
		},
		{
			name: "reserved class",
			in: func(t *testing.T) string {
				return edit(t, "recipients:\n", "recipients:\n  gap: /x.pub\n")
			},
			want: []string{`t.yaml:9: recipients.gap: class name "gap" is reserved`},
		},
		{
			name: "bad class name",
			in: func(t *testing.T) string {
				return edit(t, "recipients:\n", "recipients:\n  Ops: /x.pub\n")
			},
			want: []string{`t.yaml:9: recipients.Ops: class name "Ops" must match`},
		},
		{
			name: "duplicate key",
			in:   func(t *testing.T) string { return edit(t, "  id: gw-001\n", "  id: gw-001\n  id: gw-002\n") },
			want: []string{"t.yaml:3: gateway.id: duplicate key (first on line 2)"},
		},
		{
			name: "duplicate option key",
			in: func(t *testing.T) string {
				return base + "    options:\n      seed: 1\n      seed: 2\n"
			},
			want: []string{"t.yaml:17: devices[0].options.seed: duplicate key (first on line 16)"},
		},
		{
			name: "bad gateway id",
			in:   func(t *testing.T) string { return edit(t, "id: gw-001", "id: GW_1") },
			want: []string{`t.yaml:2: gateway.id: "GW_1" must match [a-z0-9][a-z0-9-]{0,62}`},
		},
		{
			name: "device name with colon",
			in:   func(t *testing.T) string { return edit(t, "name: aq-1", `name: "aq:1"`) },
			want: []string{`t.yaml:11: devices[0].name: "aq:1" must match`},
		},
		{
			name: "topic prefix with an empty level",
			in: func(t *testing.T) string {
				return edit(t, "  key: /etc/edgegw/client.key\n", "  key: /etc/edgegw/client.key\n  topic_prefix: a//b\n")
			},
			want: []string{`t.yaml:8: uplink.topic_prefix: "a//b" must not have an empty level (a leading, trailing or doubled '/')`},
		},
		{
			name: "topic prefix with a wildcard",
			in: func(t *testing.T) string {
				return edit(t, "  key: /etc/edgegw/client.key\n", "  key: /etc/edgegw/client.key\n  topic_prefix: city/+\n")
			},
			want: []string{`t.yaml:8: uplink.topic_prefix: "city/+" must not contain '+', '#' or NUL`},
		},
		{
			name: "inflight out of range",
			in: func(t *testing.T) string {
				return edit(t, "  key: /etc/edgegw/client.key\n", "  key: /etc/edgegw/client.key\n  inflight: 0\n")
			},
			want: []string{`t.yaml:8: uplink.inflight: "0" is outside 1..1024`},
		},
		{
			name: "receipts not a list",
			in: func(t *testing.T) string {
				return edit(t, "  key: /etc/edgegw/client.key\n", "  key: /etc/edgegw/client.key\n  receipts: /etc/edgegw/ingest.pub\n")
			},
			want: []string{`t.yaml:8: uplink.receipts: must be a sequence, not a scalar`},
		},
		{
			name: "receipt file empty or not a string",
			in: func(t *testing.T) string {
				return edit(t, "  key: /etc/edgegw/client.key\n", "  key: /etc/edgegw/client.key\n  receipts:\n    - /etc/edgegw/ingest.pub\n    - \"\"\n    - {a: b}\n")
			},
			want: []string{
				`t.yaml:10: uplink.receipts[1]: must not be empty`,
				`t.yaml:11: uplink.receipts[2]: must be a string, not a mapping`,
			},
		},
		{
			name: "receipt timeout and bound out of range",
			in: func(t *testing.T) string {
				return edit(t, "  key: /etc/edgegw/client.key\n", "  key: /etc/edgegw/client.key\n  receipt_timeout: 500ms\n  unreceipted: 0\n")
			},
			want: []string{
				`t.yaml:8: uplink.receipt_timeout: "500ms" is outside 1s..1h`,
				`t.yaml:9: uplink.unreceipted: "0" is outside 1..65535`,
			},
		},
		{
			name: "humid threshold out of range",
			in: func(t *testing.T) string {
				return edit(t, "  key: /etc/edgegw/client.key\n", "  key: /etc/edgegw/client.key\nquality: {humid_rh: 120}\n")
			},
			want: []string{`t.yaml:8: quality.humid_rh: "120" is outside 1..100`},
		},
		{
			name: "control socket not absolute",
			in: func(t *testing.T) string {
				return edit(t, "  key: /etc/edgegw/client.key\n", "  key: /etc/edgegw/client.key\ncontrol: {socket: run/control.sock}\n")
			},
			want: []string{`t.yaml:8: control.socket: "run/control.sock" must be an absolute path or "off"`},
		},
		{
			name: "inflight not an integer",
			in: func(t *testing.T) string {
				return edit(t, "  key: /etc/edgegw/client.key\n", "  key: /etc/edgegw/client.key\n  inflight: \"32\"\n")
			},
			want: []string{`t.yaml:8: uplink.inflight: "32" is not an integer`},
		},
		{
			name: "backoff max below min",
			in: func(t *testing.T) string {
				return edit(t, "  key: /etc/edgegw/client.key\n", "  key: /etc/edgegw/client.key\n  backoff_min: 10s\n  backoff_max: 2s\n")
			},
			want: []string{`t.yaml:9: uplink.backoff_max: "2s" must be at least uplink.backoff_min (10s)`},
		},
		{
			name: "negative version",
			in:   func(t *testing.T) string { return "version: -1\n" + base },
			want: []string{`t.yaml:1: version: "-1" is not a non-negative integer`},
		},
		{
			name: "bad log level",
			in:   func(t *testing.T) string { return base + "log: {level: verbose}\n" },
			want: []string{`t.yaml:15: log.level: "verbose" must be debug, info, warn or error`},
		},
		{
			name: "section of the wrong kind",
			in:   func(t *testing.T) string { return base + "batch: [1, 2]\n" },
			want: []string{"t.yaml:15: batch: must be a mapping, not a sequence"},
		},
		{
			name: "devices not a sequence",
			in: func(t *testing.T) string {
				return base + "devices: {name: x}\n"
			},
			want: []string{"t.yaml:15: devices: duplicate key (first on line 10)"},
		},
		{
			name: "device not a mapping",
			in:   func(t *testing.T) string { return base + "  - aq-2\n" },
			want: []string{"t.yaml:15: devices[1]: must be a mapping, not a scalar"},
		},
		{
			name: "uplink not a mapping",
			in: func(t *testing.T) string {
				return "uplink: ssl://b:8883\n" + strings.Replace(base, "uplink:", "extra:", 1)
			},
			want: []string{"t.yaml:1: uplink: must be a mapping, not a scalar", "t.yaml:4: extra: unknown field"},
		},
		{
			name: "options not a mapping",
			in:   func(t *testing.T) string { return base + "    options: [1]\n" },
			want: []string{"t.yaml:15: devices[0].options: must be a mapping, not a sequence"},
		},
		{
			name: "alias refused",
			in:   func(t *testing.T) string { return base + "    options: {a: &x 1, b: *x}\n" },
			want: []string{"t.yaml:15: devices[0].options.b: yaml aliases are not supported"},
		},
		{
			name: "unknown driver kind is not checked by parse",
			in:   func(t *testing.T) string { return edit(t, "driver: sim", "driver: bogus") + "extra: 1\n" },
			want: []string{"t.yaml:15: extra: unknown field"},
		},
		{
			name: "several errors at once",
			in: func(t *testing.T) string {
				s := edit(t, "  broker:", "  brokr:")
				s = strings.Replace(s, "interval: 5s", "interval: 5x", 1)
				s = strings.Replace(s, "class: telemetry", "class: personal", 1)
				return s + "buffer: {max_bytes: lots}\n"
			},
			want: []string{
				"t.yaml:3: uplink.broker: missing required field",
				"t.yaml:4: uplink.brokr: unknown field",
				`t.yaml:13: devices[0].interval: "5x" is not a duration`,
				`t.yaml:14: devices[0].class: "personal" has no entry in recipients`,
				`t.yaml:15: buffer.max_bytes: "lots" is not a size`,
			},
		},
		{
			name: "empty file",
			in:   func(t *testing.T) string { return "" },
			want: []string{"t.yaml:1: file is empty"},
		},
		{
			name: "comments only",
			in:   func(t *testing.T) string { return "# nothing\n" },
			want: []string{"t.yaml:1: file is empty"},
		},
		{
			name: "top level not a mapping",
			in:   func(t *testing.T) string { return "- a\n- b\n" },
			want: []string{"t.yaml:1: top level must be a mapping, not a sequence"},
		},
		{
			name: "multiple documents",
			in:   func(t *testing.T) string { return base + "---\n" + base },
			want: []string{"t.yaml:15: multiple yaml documents are not allowed"},
		},
		{
			name: "syntax error",
			in:   func(t *testing.T) string { return "gateway:\n  id: [\n" },
			want: []string{"t.yaml:2: invalid yaml: did not find expected node content"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(tt.in(t)))
			if err == nil {
				t.Fatalf("Parse succeeded, want errors %q", tt.want)
			}
			if c != nil {
				t.Errorf("Parse returned a config with an error")
			}
			lines := strings.Split(err.Error(), "\n")
			if !strings.Contains(tt.name, "syntax") && len(lines) != len(tt.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if i >= len(lines) || !strings.Contains(lines[i], w) {
					t.Errorf("error %d: want substring %q in:\n%v", i, w, err)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FieldError", err)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse("t.yaml", []byte(base))
	must.NoError(t, err)
	want := Config{
		Gateway: Gateway{ID: "gw-001", Keys: DefaultKeysDir, State: DefaultStateDir},
		Uplink: Uplink{
			Broker: "ssl://broker.example.net:8883", CA: "/etc/edgegw/ca.pem",
			Cert: "/etc/edgegw/client.pem", Key: "/etc/edgegw/client.key",
			TopicPrefix: "city", ClientID: "gw-001", Keepalive: 30 * time.Second, Inflight: 100,
			BackoffMin: time.Second, BackoffMax: 10 * time.Second, HealthInterval: time.Minute,
			ReceiptTimeout: time.Minute, Unreceipted: 1000,
		},
		Recipients: map[string]string{"telemetry": "/etc/edgegw/ops.pub"},
		Batch:      Batch{MaxReadings: 100, MaxDelay: 10 * time.Second, Durability: time.Second},
		Buffer:     Buffer{MaxBytes: 256 << 20, MaxAge: 720 * time.Hour},
		Log:        Log{Level: "info"},
		Quality:    Quality{HumidRH: 85},
		Fleet:      Fleet{Probation: 2 * time.Minute},
		Control:    Control{Socket: "/run/edgegw/control.sock", ViewerGroup: "edgegw", TechnicianGroup: "edgegw-tech", AdminGroup: "edgegw-admin"},
		Devices:    []Device{{Name: "aq-1", Driver: "sim", Interval: 5 * time.Second, Class: "telemetry", Line: 11}},
		File:       "t.yaml",
	}
	if !equalConfig(c, &want) {
		t.Errorf("got\n%+v\nwant\n%+v", *c, want)
	}
	if c.File != "t.yaml" {
		t.Errorf("File = %q", c.File)
	}
}

func TestParseFull(t *testing.T) {
	c, err := Load("testdata/full.yaml")
	must.NoError(t, err)
	if c.Version != 7 || c.Uplink.ClientID != "gw-001" || c.Buffer.MaxBytes != 256<<20 {
		t.Errorf("version %d client id %q max bytes %d", c.Version, c.Uplink.ClientID, c.Buffer.MaxBytes)
	}
	u := c.Uplink
	if !slices.Equal(u.Receipts, []string{"/etc/edgegw/ingest.pub", "/etc/edgegw/ingest-next.pub"}) || u.ReceiptTimeout != 90*time.Second || u.Unreceipted != 500 {
		t.Errorf("receipts %q, timeout %v, unreceipted %d", u.Receipts, u.ReceiptTimeout, u.Unreceipted)
	}
	d := c.Devices[1]
	if d.Line != 36 || d.OptionsLine != 41 || d.Interval != 500*time.Millisecond {
		t.Errorf("device 1: line %d options line %d interval %v", d.Line, d.OptionsLine, d.Interval)
	}
	wantOpts := map[string]any{
		"seed": 2, "ratio": 1000.0, "scale": 1500.0,
		"registers": []any{16, 2, "3"},
		"nested":    map[string]any{"a": []any{true, nil, nil, "x"}, "b": "2001-12-14"},
	}
	if !reflect.DeepEqual(d.Options, wantOpts) {
		t.Errorf("options = %#v, want %#v", d.Options, wantOpts)
	}
	if c.Devices[0].Options["seed"] != 1 {
		t.Errorf("device 0 options = %#v", c.Devices[0].Options)
	}
}

func TestExplicitZeroDurability(t *testing.T) {
	c, err := Parse("t.yaml", []byte(base+"batch: {durability: 0}\n"))
	must.NoError(t, err)
	if c.Batch.Durability != 0 {
		t.Errorf("durability = %v, want 0", c.Batch.Durability)
	}
}

func TestNullTakesDefault(t *testing.T) {
	c, err := Parse("t.yaml", []byte(base+"log:\n  level:\nbatch:\n"))
	must.NoError(t, err)
	if c.Log.Level != "info" || c.Batch.MaxReadings != DefaultMaxReadings {
		t.Errorf("log level %q max readings %d", c.Log.Level, c.Batch.MaxReadings)
	}
}

func TestSizes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "65536", want: 65536},
		{in: "64KiB", want: 64 << 10},
		{in: "256MiB", want: 256 << 20},
		{in: "2 GiB", want: 2 << 30},
		{in: "100KB", want: 100e3},
		{in: "5MB", want: 5e6},
		{in: "1GB", want: 1e9},
		{in: "70000B", want: 70000},
		{in: "1.5MiB", bad: true},
		{in: "-1", bad: true},
		{in: "MiB", bad: true},
		{in: "10mib", bad: true},
		{in: "9223372036854775807GB", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.bad {
				if err == nil {
					t.Errorf("ParseSize(%q) = %d, want error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseSize(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestValidateKnownDrivers(t *testing.T) {
	c, err := Parse("t.yaml", []byte(base))
	must.NoError(t, err)
	if err := c.Validate(nil); err != nil {
		t.Errorf("Validate(nil) = %v", err)
	}
	if err := c.Validate(func(d string) bool { return d == "sim" }); err != nil {
		t.Errorf("Validate(sim) = %v", err)
	}
	err = c.Validate(func(d string) bool { return d == "bme280" })
	want := `t.yaml:12: devices[0].driver: "sim" is not a known driver`
	if err == nil || err.Error() != want {
		t.Errorf("Validate(bme280) = %v, want %s", err, want)
	}
	c.Uplink.Inflight = 5000
	c.Devices[0].Interval = 48 * time.Hour
	err = c.Validate(nil)
	if err == nil || !strings.Contains(err.Error(), `t.yaml:3: uplink.inflight: "5000" is outside 1..1024`) ||
		!strings.Contains(err.Error(), `t.yaml:13: devices[0].interval: "48h0m0s" is outside 100ms..24h`) {
		t.Errorf("Validate after edits = %v", err)
	}
}

func TestDeviceError(t *testing.T) {
	c, err := Parse("pi.yaml", []byte(base+"    options:\n      seed: abc\n      bus: {port: 1}\n"))
	must.NoError(t, err)
	tests := []struct {
		field string
		value any
		want  string
	}{
		{"options.seed", "abc", `pi.yaml:16: devices[0].options.seed: "abc" is bad`},
		{"options.bus.port", 1, `pi.yaml:17: devices[0].options.bus.port: "1" is bad`},
		{"options.bus.speed", nil, `pi.yaml:17: devices[0].options.bus.speed: is bad`},
		{"options.address", nil, `pi.yaml:15: devices[0].options.address: is bad`},
		{"model", nil, `pi.yaml:11: devices[0].model: is bad`},
	}
	for _, tt := range tests {
		err := c.DeviceError(0, tt.field, tt.value, "is bad")
		if err.Error() != tt.want {
			t.Errorf("DeviceError(%q) = %q, want %q", tt.field, err, tt.want)
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.File != "pi.yaml" {
			t.Errorf("DeviceError(%q) = %#v, want a *FieldError", tt.field, err)
		}
	}
	c2, err := Parse("pi.yaml", []byte(base))
	must.NoError(t, err)
	if got, want := c2.DeviceError(0, "options.seed", 7, "is bad").Error(), `pi.yaml:11: devices[0].options.seed: "7" is bad`; got != want {
		t.Errorf("without options: %q, want %q", got, want)
	}
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{File: "pi.yaml", Line: 14, Path: "devices[2].interval", Value: "5x", Msg: "is not a duration"}, `pi.yaml:14: devices[2].interval: "5x" is not a duration`},
		{FieldError{File: "demo.yaml", Line: 3, Path: "uplink.brokr", Msg: "unknown field"}, `demo.yaml:3: uplink.brokr: unknown field`},
		{FieldError{File: "x.yaml", Msg: "file is larger than 1 bytes"}, `x.yaml: file is larger than 1 bytes`},
		{FieldError{File: "x.yaml", Line: 1, Path: "a", Value: strings.Repeat("y", 100), Msg: "bad"}, `x.yaml:1: a: "` + strings.Repeat("y", 80) + `…" bad`},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestTooLarge(t *testing.T) {
	_, err := Parse("big.yaml", []byte(base+strings.Repeat("#", MaxFileSize)))
	if err == nil || !strings.Contains(err.Error(), "big.yaml: file is larger than") {
		t.Errorf("err = %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want os.ErrNotExist", err)
	}
}

// TestExampleConfigs requires every configs/*.yaml to parse, and checks
// that the defaults its comments show are the real ones.
func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.yaml")
	must.NoError(t, err)
	if len(files) < 3 {
		t.Fatalf("found %d example configs, want at least 3", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			must.NoError(t, err)
			if err := c.Validate(func(d string) bool { _, ok := drivers.Lookup(d); return ok }); err != nil {
				t.Error(err)
			}
			if len(c.Devices) == 0 {
				t.Error("no devices")
			}
			roundTrip(t, c)
			checkCommentedDefaults(t, f)
		})
	}
}

// checkCommentedDefaults requires an example config to show the default of
// every field that has one, as a "# field: value" line or, for a field set
// to something else, a trailing "# default value" comment. It then
// uncomments the "# field: value" lines and requires the result to parse to
// the same Config: a commented default must be the real default.
func checkCommentedDefaults(t *testing.T, file string) {
	t.Helper()
	data, err := os.ReadFile(file)
	must.NoError(t, err)
	defaults := map[string]bool{
		"version": true, "keys": true, "state": true, "topic_prefix": true, "client_id": true,
		"keepalive": true, "inflight": true, "backoff_min": true, "backoff_max": true,
		"health_interval": true, "receipt_timeout": true, "unreceipted": true, "max_readings": true, "max_delay": true, "durability": true,
		"max_bytes": true, "max_age": true, "level": true,
	}
	lines := strings.Split(string(data), "\n")
	n := 0
	documented := map[string]bool{}
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		indent := l[:len(l)-len(trimmed)]
		rest, ok := strings.CutPrefix(trimmed, "# ")
		if !ok {
			// A field set to another value must say its default.
			if key, _, ok := strings.Cut(trimmed, ":"); ok && defaults[key] && strings.Contains(l, "# default ") {
				documented[key] = true
			}
			continue
		}
		key, _, ok := strings.Cut(rest, ":")
		if ok && defaults[key] {
			lines[i] = indent + rest
			documented[key] = true
			n++
		}
	}
	for key := range defaults {
		if !documented[key] {
			t.Errorf("default of %s is not shown", key)
		}
	}
	want, err := Load(file)
	must.NoError(t, err)
	got, err := Parse(file, []byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatalf("with defaults uncommented: %v", err)
	}
	if !equalConfig(got, want) {
		t.Errorf("uncommenting the %d commented defaults changes the config", n)
	}
}

func TestCanonicalRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			must.NoError(t, err)
			roundTrip(t, c)
		})
	}
}

func TestCanonicalIsSortedAndStable(t *testing.T) {
	a, err := Parse("a.yaml", []byte(base+"    options: {z: 1, a: 2.0, m: [x]}\n"))
	must.NoError(t, err)
	// Same content, different order and style.
	b, err := Parse("b.yaml", []byte(`devices:
- {class: telemetry, interval: 5000ms, driver: sim, name: aq-1, options: {m: [x], a: 2.0, z: 1}}
recipients: {telemetry: /etc/edgegw/ops.pub}
uplink: {key: /etc/edgegw/client.key, cert: /etc/edgegw/client.pem, ca: /etc/edgegw/ca.pem, broker: "ssl://broker.example.net:8883", keepalive: 30s}
gateway: {id: gw-001}
buffer: {max_bytes: 268435456}
`))
	must.NoError(t, err)
	ca, err := a.Canonical()
	must.NoError(t, err)
	cb, err := b.Canonical()
	must.NoError(t, err)
	if string(ca) != string(cb) {
		t.Errorf("canonical forms differ:\n%s\n---\n%s", ca, cb)
	}
	if !strings.HasPrefix(string(ca), "batch:\n") || !strings.Contains(string(ca), "    options:\n      a: 2.0\n      m:\n        - x\n      z: 1\n") {
		t.Errorf("canonical form not sorted:\n%s", ca)
	}
}

// roundTrip checks that c's canonical form parses back to an equal Config
// whose canonical form is the same bytes.
func roundTrip(t *testing.T, c *Config) {
	t.Helper()
	b, err := c.Canonical()
	if err != nil {
		t.Fatalf("Canonical: %v", err)
	}
	c2, err := Parse("canonical.yaml", b)
	if err != nil {
		t.Fatalf("canonical form does not parse: %v\n%s", err, b)
	}
	if !equalConfig(c, c2) {
		t.Fatalf("canonical form parses to a different config\nbefore %#v\nafter  %#v\n%s", *c, *c2, b)
	}
	b2, err := c2.Canonical()
	must.NoError(t, err)
	if string(b) != string(b2) {
		t.Fatalf("canonical form is not stable:\n%s\n---\n%s", b, b2)
	}
}

// equalConfig compares configs ignoring File and line numbers; NaN option
// values equal each other.
func equalConfig(a, b *Config) bool {
	strip := func(c *Config) Config {
		s := *c
		s.File, s.lines, s.raw = "", nil, nil
		s.Devices = make([]Device, len(c.Devices))
		for i, d := range c.Devices {
			d.Line, d.OptionsLine, d.Options = 0, 0, nil
			s.Devices[i] = d
		}
		return s
	}
	if !reflect.DeepEqual(strip(a), strip(b)) {
		return false
	}
	for i := range a.Devices {
		if !equalValue(a.Devices[i].Options, b.Devices[i].Options) {
			return false
		}
	}
	return true
}

func equalValue(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		return ok && len(a) == len(b) && maps.EqualFunc(a, b, equalValue)
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalValue(a[i], b[i]) {
				return false
			}
		}
		return true
	case float64:
		b, ok := b.(float64)
		return ok && (a == b || math.IsNaN(a) && math.IsNaN(b))
	}
	return reflect.DeepEqual(a, b)
}

// TestMultiLevelTopicPrefix: a prefix of several levels, as the topic layout
// and the ingest allow, is a valid gateway configuration.
func TestMultiLevelTopicPrefix(t *testing.T) {
	c, err := Parse("t.yaml", []byte(edit(t, "  key: /etc/edgegw/client.key\n", "  key: /etc/edgegw/client.key\n  topic_prefix: city/north\n")))
	must.NoError(t, err)
	if c.Uplink.TopicPrefix != "city/north" {
		t.Errorf("topic_prefix = %q, want city/north", c.Uplink.TopicPrefix)
	}
}
