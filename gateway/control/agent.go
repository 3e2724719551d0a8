package control

import (
	"context"
	"time"

	"github.com/edgegw/edgegw/drivers/reading"
)

// Agent is what the control socket exposes of the running gateway. The
// gateway implements it; tests use a fake.
type Agent interface {
	// Status describes the gateway now.
	Status() Status
	// Watch streams each poll's readings (of one device, or of all when
	// device is empty) until ctx is done. Slow readers miss polls rather
	// than slow the agent down.
	Watch(ctx context.Context, device string) (<-chan []reading.Reading, error)
	// Read polls one configured device now, outside its schedule.
	Read(ctx context.Context, device string) ([]reading.Reading, error)
	// Flush closes the open batches now so that they are published.
	Flush(ctx context.Context) error
	// SetLogLevel changes the agent's log level (debug, info, warn, error).
	SetLogLevel(level string) error
	// SetDeviceEnabled stops or resumes polling one device.
	SetDeviceEnabled(device string, enabled bool) error
	// ApplyConfig applies a configuration file as a local override: it is
	// checked, written and run on probation like a pushed one, and returns
	// its version.
	ApplyConfig(ctx context.Context, yaml []byte) (uint64, error)
	// Export hands every closed batch in the buffer to emit, in sequence
	// order, and returns the signed manifest of the export.
	Export(ctx context.Context, emit func(ExportedBatch) error) (manifest []byte, err error)
}

// ExportedBatch is one batch of a buffer export: the envelope exactly as it
// would be published, sealed and signed, so it is safe to carry.
type ExportedBatch struct {
	Seq      uint64 `json:"seq"`
	Class    string `json:"class"`
	Envelope []byte `json:"envelope"` // base64 in JSON
}

// Auditor keeps the audit trail: durably, append-only, and forwarded
// upstream signed like data.
type Auditor interface {
	Record(e Event) error
	// Trail returns the newest limit events, oldest first.
	Trail(limit int) ([]Event, error)
}

// Event is one audit record: a call that changed something, or a denied
// call. Args never hold secrets.
type Event struct {
	Time    time.Time         `json:"time"`
	UID     int               `json:"uid"`
	GID     int               `json:"gid"`
	PID     int               `json:"pid"`
	Process string            `json:"process"` // the caller's executable name
	Role    string            `json:"role"`    // the caller's role, or "none"
	Action  string            `json:"action"`  // e.g. "buffer.flush", "device.disable"
	Args    map[string]string `json:"args,omitempty"`
	Result  string            `json:"result"` // "ok", "denied: needs technician", or the error
}

// Status is the one-screen state `edgegw status` shows.
type Status struct {
	Gateway         string         `json:"gateway"`
	Version         string         `json:"version"`
	UptimeSeconds   int64          `json:"uptime_s"`
	ConfigVersion   uint64         `json:"config_version"`
	ClockSynced     bool           `json:"clock_synced"`
	Uplink          UplinkStatus   `json:"uplink"`
	Buffer          BufferStatus   `json:"buffer"`
	Devices         []DeviceStatus `json:"devices"`
	BufferRecovered string         `json:"buffer_recovered,omitempty"`
	// Config says where the running configuration comes from; nil when the
	// agent does not run under fleet control.
	Config *ConfigSource `json:"config,omitempty"`
}

// ConfigSource is where the running configuration comes from, and its fleet
// state.
type ConfigSource struct {
	File     string `json:"file"`             // the file the agent runs
	Origin   string `json:"origin"`           // "operator" (the --config file) or "applied" (a push or config apply)
	Operator string `json:"operator"`         // the --config file
	State    string `json:"state,omitempty"`  // the fleet state: committed, probation, rolled-back, rejected
	Reason   string `json:"reason,omitempty"` // why, for rolled-back and rejected
	Note     string `json:"note,omitempty"`   // why a configuration file that exists does not run
}

// UplinkStatus is the broker connection's state.
type UplinkStatus struct {
	Broker       string    `json:"broker"`
	Connected    bool      `json:"connected"`
	Since        time.Time `json:"since,omitzero"`      // connected since, or disconnected since
	NextRetry    time.Time `json:"next_retry,omitzero"` // while disconnected: when the next connection attempt starts
	LastError    string    `json:"last_error,omitempty"`
	Published    uint64    `json:"published"`    // batch publishes, publishes again included
	Acknowledged uint64    `json:"acknowledged"` // publishes the broker acknowledged (PUBACK)
	Reconnects   uint64    `json:"reconnects"`
	// Takeover explains, while it lasts, that another client seems to be
	// using this gateway's client id (the broker keeps closing the session).
	Takeover string `json:"takeover,omitempty"`
	// Receipts is nil without receipt keys (uplink.receipts): batches are
	// then deleted on the broker's PUBACK.
	Receipts *ReceiptStatus `json:"receipts,omitempty"`
}

// ReceiptStatus is how the backend's signed receipts delete batches: a
// batch leaves the buffer only when a receipt says the city's database
// committed it.
type ReceiptStatus struct {
	TimeoutSeconds       int64             `json:"timeout_s"`            // a batch not receipted within this is published again
	Last                 *LastReceipt      `json:"last,omitempty"`       // nil before the first receipt accepted
	Accepted             uint64            `json:"accepted"`             // receipts verified and applied
	Rejected             map[string]uint64 `json:"rejected,omitempty"`   // receipts refused, by reason: malformed, untrusted, bad-signature, foreign, stale
	ReceiptedBatches     uint64            `json:"receipted_batches"`    // batches deleted because a receipt covered them
	Republished          uint64            `json:"republished"`          // publishes again of batches not receipted in time
	UnreceiptedBatches   int               `json:"unreceipted_batches"`  // published, not yet covered by a receipt
	UnreceiptedReadings  int64             `json:"unreceipted_readings"` // readings in them
	OldestUnreceiptedAge int64             `json:"oldest_unreceipted_s"` // seconds since the first publish of the oldest of them
}

// LastReceipt is the last receipt the gateway accepted.
type LastReceipt struct {
	Time     time.Time `json:"time"`     // when the ingest signed it
	Received time.Time `json:"received"` // when the gateway accepted it
	Through  uint64    `json:"through"`  // every sequence number up to this one is committed
	Highest  uint64    `json:"highest"`  // the highest sequence number it covers
	Signer   string    `json:"signer"`   // the id of the ingest key that signed it
}

// BufferStatus is the store-and-forward buffer's state.
type BufferStatus struct {
	Batches         int    `json:"batches"`
	Readings        int64  `json:"readings"`
	Bytes           int64  `json:"bytes"`
	OldestUnsentAge int64  `json:"oldest_unsent_s"`
	DroppedBatches  uint64 `json:"dropped_batches"`
	DroppedReadings uint64 `json:"dropped_readings"`
}

// DeviceStatus is one device's line in the status table.
type DeviceStatus struct {
	Name      string    `json:"name"`
	Driver    string    `json:"driver"`
	Enabled   bool      `json:"enabled"`
	Interval  string    `json:"interval"`
	Polls     uint64    `json:"polls"`
	Errors    uint64    `json:"errors"`
	LastOK    time.Time `json:"last_ok,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Flags     []string  `json:"flags,omitempty"` // flags of the last poll's readings, e.g. out-of-range
	Stats     any       `json:"stats,omitempty"` // the driver's own statistics (a meter's timeouts, CRC errors, latency)
}
