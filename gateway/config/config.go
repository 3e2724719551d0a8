package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults applied by Parse to fields the file leaves out (or sets to null).
const (
	DefaultKeysDir        = "/var/lib/edgegw/keys"
	DefaultStateDir       = "/var/lib/edgegw"
	DefaultTopicPrefix    = "city"
	DefaultKeepalive      = 30 * time.Second
	DefaultInflight       = 100
	DefaultBackoffMin     = 1 * time.Second
	DefaultBackoffMax     = 10 * time.Second
	DefaultHealthInterval = 60 * time.Second
	DefaultReceiptTimeout = 60 * time.Second
	// DefaultUnreceipted lets a drain reach 250,000 readings/s when receipts
	// come back 400 ms after a publish (the backend coalesces them to one per
	// 200 ms) with 100 readings a batch, and keeps one gateway's backlog
	// within Mosquitto's default max_queued_messages (1000) of the backend.
	DefaultUnreceipted   = 1000
	DefaultMaxReadings   = 100
	DefaultMaxDelay      = 10 * time.Second
	DefaultDurability    = 1 * time.Second
	DefaultMaxBytes      = 256 << 20 // 256 MiB
	DefaultMaxAge        = 720 * time.Hour
	DefaultLogLevel      = "info"
	DefaultHumidRH       = 85
	DefaultControlSocket = "/run/edgegw/control.sock"
	DefaultProbation     = 2 * time.Minute
	DefaultViewerGroup   = "edgegw"
	DefaultTechGroup     = "edgegw-tech"
	DefaultAdminGroup    = "edgegw-admin"
)

// MaxFileSize is the largest configuration Parse accepts, in bytes.
const MaxFileSize = 1 << 20

// ReservedClass is the data class name edgegw uses for its own gap records;
// no recipient or device may use it.
const ReservedClass = "gap"

// Config is a parsed, validated edgegw configuration with defaults applied.
type Config struct {
	// Version increases with every signed fleet push; 0 by default.
	Version uint64 `yaml:"version"`
	// Gateway identifies this gateway and where it keeps its files.
	Gateway Gateway `yaml:"gateway"`
	// Uplink is the MQTT connection to the broker.
	Uplink Uplink `yaml:"uplink"`
	// Recipients maps a data class to the file holding its recipient's
	// public key. Never nil.
	Recipients map[string]string `yaml:"recipients" check:"recipients"`
	// Batch says when a batch of sealed readings is closed and committed.
	Batch Batch `yaml:"batch"`
	// Buffer bounds the store-and-forward buffer.
	Buffer Buffer `yaml:"buffer"`
	// Log configures logging.
	Log Log `yaml:"log"`
	// Quality configures cross-device quality flags.
	Quality Quality `yaml:"quality"`
	// Control configures the local control socket.
	Control Control `yaml:"control"`
	// Fleet configures signed configuration pushed by fleet operations.
	Fleet Fleet `yaml:"fleet"`
	// Devices are the devices to poll, in file order. Never nil.
	Devices []Device `yaml:"devices"`
	// File is the name the configuration was parsed from; it is used in
	// error messages and is not part of the canonical form.
	File string `yaml:"-"`

	lines map[string]int      // dotted path → line of its key (or item)
	raw   map[string]rawValue // dotted path → scalar as written
}

// Gateway is the `gateway` section.
type Gateway struct {
	// ID is the gateway's identity: [a-z0-9][a-z0-9-]{0,62}. It is also the
	// MQTT client certificate's identity and a topic level.
	ID string `yaml:"id" check:"required,gatewayid"`
	// Keys is the directory holding identity.key.
	Keys string `yaml:"keys" check:"path"`
	// State is the directory holding buffer.db.
	State string `yaml:"state" check:"path"`
}

// Uplink is the `uplink` section: the MQTT connection over TLS.
type Uplink struct {
	// Broker is the broker address, ssl://, tls:// or mqtts:// host:port.
	Broker string `yaml:"broker" check:"required,broker"`
	// CA is the CA bundle pinned for the broker.
	CA string `yaml:"ca" check:"path"`
	// Cert is the client certificate file.
	Cert string `yaml:"cert" check:"path"`
	// Key is the client private key file.
	Key string `yaml:"key" check:"path"`
	// TopicPrefix is the first topic level or levels, e.g. "city" or
	// "city/north" (the layout of mqtt/topic); no wildcards or empty levels.
	TopicPrefix string `yaml:"topic_prefix" check:"required,topicprefix"`
	// ClientID is the MQTT client id; the gateway id by default.
	ClientID string `yaml:"client_id" check:"clientid"`
	// Keepalive is the MQTT keepalive, 5s..20m.
	Keepalive time.Duration `yaml:"keepalive" range:"5s..20m"`
	// Inflight is the maximum number of unacknowledged publishes, 1..1024.
	Inflight int `yaml:"inflight" range:"1..1024"`
	// BackoffMin is the reconnect backoff floor, > 0.
	BackoffMin time.Duration `yaml:"backoff_min" min:"1ms"`
	// BackoffMax is the reconnect backoff cap, ≥ BackoffMin.
	BackoffMax time.Duration `yaml:"backoff_max" atleast:"backoff_min"`
	// HealthInterval is the period of health messages, ≥ 1s.
	HealthInterval time.Duration `yaml:"health_interval" min:"1s"`
	// Receipts are files of the backend ingest's public identities (lines
	// written by `edgegw keys` as edgegw-ed25519 <key> <id>). When set, a
	// batch leaves the buffer only when a receipt signed by one of them
	// covers it; when empty, on the broker's PUBACK. Nil when absent.
	Receipts []string `yaml:"receipts" check:"path"`
	// ReceiptTimeout is how long a published batch may go without a
	// receipt before it is published again, 1s..1h.
	ReceiptTimeout time.Duration `yaml:"receipt_timeout" range:"1s..1h"`
	// Unreceipted bounds the batches published and not yet covered by a
	// receipt, 1..65535.
	Unreceipted int `yaml:"unreceipted" range:"1..65535"`
}

// Batch is the `batch` section.
type Batch struct {
	// MaxReadings closes a batch after this many readings, 1..10000.
	MaxReadings int `yaml:"max_readings" range:"1..10000"`
	// MaxDelay closes a batch this long after it opened, 100ms..1h.
	MaxDelay time.Duration `yaml:"max_delay" range:"100ms..1h"`
	// Durability is the group-commit window, 0..1m; 0 commits every poll
	// before the next.
	Durability time.Duration `yaml:"durability" range:"0..1m"`
}

// Buffer is the `buffer` section.
type Buffer struct {
	// MaxBytes bounds the buffer's size in bytes, ≥ 64 KiB.
	MaxBytes int64 `yaml:"max_bytes" unit:"bytes" min:"64KiB"`
	// MaxAge drops batches older than this, ≥ 1m.
	MaxAge time.Duration `yaml:"max_age" min:"1m"`
}

// Fleet is the `fleet` section: which operations keys may change this
// gateway's configuration remotely, and how long a new configuration has to
// prove itself before it is committed.
type Fleet struct {
	// Trust is the file of pinned ops public keys (edgegw keys ops); empty
	// disables remote configuration: pushed documents are rejected.
	Trust string `yaml:"trust"`
	// Group is the fleet group this gateway belongs to, for documents that
	// target a group; empty for none.
	Group string `yaml:"group"`
	// Probation is how long a new configuration has to reach the broker
	// and poll every device before it is rolled back, 10s..1h.
	Probation time.Duration `yaml:"probation" range:"10s..1h"`
}

// Control is the `control` section: the local Unix socket of the CLI and
// the groups that give its roles. There is never a network listener.
type Control struct {
	// Socket is the Unix socket's path; "off" disables the socket.
	Socket string `yaml:"socket" check:"socket"`
	// ViewerGroup, TechnicianGroup and AdminGroup name the groups whose
	// members may read, operate devices and the buffer, and change the
	// configuration and keys. root is always admin.
	ViewerGroup     string `yaml:"viewer_group" check:"required"`
	TechnicianGroup string `yaml:"technician_group" check:"required"`
	AdminGroup      string `yaml:"admin_group" check:"required"`
}

// Quality is the `quality` section.
type Quality struct {
	// HumidRH is the relative humidity, in percent 1..100, above which
	// particulate readings are flagged humid (optical PM sensors over-read
	// in humid air), when a sensor on the same gateway measures RH.
	HumidRH int `yaml:"humid_rh" range:"1..100"`
}

// Log is the `log` section.
type Log struct {
	// Level is one of debug, info, warn, error.
	Level string `yaml:"level" oneof:"debug info warn error"`
}

// Device is one entry of `devices`.
type Device struct {
	// Name is unique, [a-z0-9][a-z0-9_-]{0,31}; it prefixes SenML names.
	Name string `yaml:"name" check:"required,devicename"`
	// Driver is the driver kind, [a-z0-9][a-z0-9_-]{0,31}. Whether it
	// exists is checked by Validate's hook, not by Parse.
	Driver string `yaml:"driver" check:"required,driver"`
	// Model is driver specific and optional.
	Model string `yaml:"model"`
	// Interval is the poll period, 100ms..24h.
	Interval time.Duration `yaml:"interval" check:"required" range:"100ms..24h"`
	// Class is the data class, a key of Config.Recipients.
	Class string `yaml:"class" check:"required,class"`
	// Options is the free-form `options` mapping, decoded to string,
	// bool, int, uint64, float64, nil, []any and map[string]any values;
	// nil when absent or empty. The driver validates it.
	Options map[string]any `yaml:"options,omitempty"`
	// Line is the line of the device's entry; 0 when unknown.
	Line int `line:""`
	// OptionsLine is the line of its `options` key; 0 when absent.
	OptionsLine int `line:"options"`
}

// NamePattern is the syntax of device names and driver kinds.
const NamePattern = "[a-z0-9][a-z0-9_-]{0,31}"

var (
	nameRE  = regexp.MustCompile("^" + NamePattern + "$")
	classRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
)

// ValidName reports whether name is a valid device name (NamePattern).
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Load reads and parses the configuration file at path; see Parse.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a configuration; name is used as the file
// name in errors and stored in Config.File. It reports every problem it
// finds at once, as *FieldError values joined with errors.Join; driver kinds
// are not checked (see Validate). On error the Config is nil.
func Parse(name string, data []byte) (c *Config, err error) {
	d := &decoder{file: name, lines: map[string]int{}, raw: map[string]rawValue{}, bad: map[string]bool{}}
	defer func() {
		// yaml.v3 has panicked on hostile input before; never let it out.
		if r := recover(); r != nil {
			c, err = nil, &FieldError{File: name, Msg: fmt.Sprintf("invalid yaml: %v", r)}
		}
	}()
	if len(data) > MaxFileSize {
		return nil, &FieldError{File: name, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}
	}
	root, ferr := decodeDocument(name, data)
	if ferr != nil {
		return nil, ferr
	}
	c = d.config(root)
	errs := d.errs
	errs = append(errs, c.check(nil, d.bad)...)
	if len(errs) > 0 {
		return nil, joinSorted(errs)
	}
	return c, nil
}

// decodeDocument returns the single top-level mapping of data.
func decodeDocument(name string, data []byte) (*yaml.Node, *FieldError) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{File: name, Line: 1, Msg: "file is empty"}
		}
		return nil, yamlError(name, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &FieldError{File: name, Line: next.Line, Msg: "multiple yaml documents are not allowed"}
	case !errors.Is(err, io.EOF):
		return nil, yamlError(name, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &FieldError{File: name, Line: 1, Msg: "file is empty"}
	}
	root := doc.Content[0]
	if isNull(root) {
		return nil, &FieldError{File: name, Line: root.Line, Msg: "file is empty"}
	}
	if root.Kind != yaml.MappingNode {
		return nil, &FieldError{File: name, Line: root.Line, Msg: "top level must be a mapping, not " + kindName(root)}
	}
	return root, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 syntax error into a FieldError.
func yamlError(name string, err error) *FieldError {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line := 0
		fmt.Sscan(m[1], &line)
		return &FieldError{File: name, Line: line, Msg: "invalid yaml: " + m[2]}
	}
	return &FieldError{File: name, Msg: "invalid yaml: " + strings.TrimPrefix(msg, "yaml: ")}
}

// joinSorted joins errs ordered by line, keeping the order of equal lines.
func joinSorted(errs []error) error {
	sort.SliceStable(errs, func(i, j int) bool { return lineOf(errs[i]) < lineOf(errs[j]) })
	return errors.Join(errs...)
}

func lineOf(err error) int {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Line
	}
	return 0
}

// DeviceError returns a *FieldError about field of Devices[i], where field is
// relative to the device, such as "options.seed" or "model". It is meant for
// drivers' option checks: the error carries the line of that key when the file
// has it, else of its nearest enclosing key (such as `options`), else the
// device's line. A nil value is left out of the message.
func (c *Config) DeviceError(i int, field string, value any, msg string) error {
	dev := fmt.Sprintf("devices[%d]", i)
	path := dev
	if field != "" {
		path = dev + "." + field
	}
	line := 0
	if i >= 0 && i < len(c.Devices) {
		line = c.Devices[i].Line
	}
	for p := path; p != dev && strings.HasPrefix(p, dev); p = parent(p) {
		if l, ok := c.lines[p]; ok {
			line = l
			break
		}
	}
	return &FieldError{File: c.File, Line: line, Path: path, Value: c.show(path, value), Msg: msg}
}

// rawValue is a scalar as written in the file and the value decoded from it.
type rawValue struct {
	text string
	val  any // a comparable scalar
}

// show formats value for an error about path: as written in the file when
// the file's value there is still value, else with fmt.Sprint; "" for nil.
func (c *Config) show(path string, value any) string {
	if value == nil {
		return ""
	}
	if r, ok := c.raw[path]; ok && r.val == value {
		return r.text
	}
	return fmt.Sprint(value)
}

// parent returns the path of the field enclosing path: "a.b[2].c" → "a.b[2]"
// → "a.b" → "a" → "".
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}
