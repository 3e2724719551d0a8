package store

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// Classes a batch has besides its data class.
const (
	ClassGap   = "gap"   // a signed gap record: Batch.Gap is set
	ClassAudit = "audit" // a signed audit record: Batch.Audit is set
)

// MaxSeq is the highest sequence number (and configuration version, and gap
// count) the store holds: both engines keep them as signed 64-bit integers.
const MaxSeq = math.MaxInt64 - 1

// Reading is one opened reading of a data batch.
type Reading struct {
	Device, Channel, Unit string
	Time                  time.Time // stored to the microsecond, in UTC
	Value                 *float64  // nil for a read-error reading (stored as NULL)
	Flags                 uint16    // reading.Flags bits
}

// Gap is a gateway's signed gap record: it dropped the batches FromSeq..ToSeq
// (inclusive) deliberately and says why.
type Gap struct {
	FromSeq, ToSeq    uint64
	Batches, Readings uint64 // how many batches and readings the gateway dropped in that range
	Reason            string // the gateway's reason, e.g. "max-bytes"
}

// Batch is one verified envelope, as the ingest commits it.
type Batch struct {
	Gateway       string
	Seq           uint64 // 1..MaxSeq
	Class         string // data class ("telemetry", "personal", ...), ClassGap or ClassAudit
	KeyID         []byte // recipient key id; nil for gap and audit records
	ConfigVersion uint64 // from the signed header
	Created       time.Time
	Received      time.Time // when the ingest received it
	HeaderHash    [32]byte  // SHA-256 of the raw header: tells a duplicate from a reused sequence number
	Size          int       // bytes on the wire
	Readings      []Reading // data batches only
	Gap           *Gap      // gap records only
	Audit         []byte    // audit records only: one JSON object
}

// Outcome is what Commit did with one batch.
type Outcome int

// Outcomes of Commit.
const (
	// New: the batch is now committed.
	New Outcome = iota + 1
	// Duplicate: the same gateway, sequence number and header hash were
	// already committed; nothing changed. The batch is stored, so a receipt
	// covers it.
	Duplicate
	// Reused: the gateway and sequence number were committed with another
	// header. The batch is not stored; it is recorded as a reject with reason
	// ReasonReusedSeq.
	Reused
)

// String returns "new", "duplicate" or "reused".
func (o Outcome) String() string {
	switch o {
	case New:
		return "new"
	case Duplicate:
		return "duplicate"
	case Reused:
		return "reused"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// ReasonReusedSeq is the reject reason Commit records for a Reused batch.
const ReasonReusedSeq = "reused-seq"

// Reject is one envelope the ingest did not store. Reject stores text fields
// as valid UTF-8 (invalid bytes and NUL become U+FFFD) of at most
// MaxRejectText bytes each, since they hold whatever a sender put there.
type Reject struct {
	Time    time.Time
	Reason  string // a stable reason, e.g. envelope's reject reasons or ReasonReusedSeq
	Gateway string // the gateway the envelope claimed to come from; may be empty
	Topic   string
	Detail  string
	Size    int // bytes on the wire
}

// MaxRejectText is the most bytes Reject keeps of a reject's Gateway, Topic
// and Detail.
const MaxRejectText = 1024

// Causes of a MissingRange.
const (
	CauseGapRecord   = "gap-record"   // a committed gap record accounts for the range
	CauseNotReceived = "not-received" // nothing accounts for the range (yet)
)

// MissingRange is a run of sequence numbers below a gateway's highest
// committed one that are not committed batches.
type MissingRange struct {
	Gateway   string
	From, To  uint64 // inclusive
	Cause     string // CauseGapRecord or CauseNotReceived
	Reason    string // the gap record's reason, e.g. "max-bytes"; empty when not received
	RecordSeq uint64 // sequence number of the gap record; 0 when not received
	Readings  uint64 // readings the gap record says it dropped (its whole range); 0 when not received
}

// Stats counts what the database holds.
type Stats struct {
	Gateways        uint64            // gateways with at least one committed batch
	Batches         uint64            // committed batches of every class (data, gap and audit records)
	Readings        uint64            // committed readings
	GapRecords      uint64            // committed gap records
	Audits          uint64            // committed audit records
	DroppedReadings uint64            // readings the committed gap records say were dropped
	Rejects         map[string]uint64 // rejects per reason, Reused batches included
}

// Store is the ingest's database. Its methods are safe for concurrent use, and
// several Stores (processes, replicas) may share one database.
type Store interface {
	// Commit stores each batch atomically (its batch row, readings, gap or
	// audit row, all or nothing) and returns one Outcome per batch, in order.
	// A batch already present changes nothing. The batches share one
	// transaction; when Commit returns a nil error every New batch is durable.
	// Two replicas racing on the same batch never duplicate a row. A batch
	// that cannot be stored fails the whole call with ErrInvalid.
	Commit(ctx context.Context, batches []Batch) ([]Outcome, error)
	// Reject records envelopes the ingest did not store.
	Reject(ctx context.Context, rejects []Reject) error
	// Committed returns the gateway's committed sequence numbers (batches
	// plus the ranges committed gap records cover) as ascending, disjoint,
	// merged inclusive ranges; nil for a gateway with none. It costs the
	// number of ranges, not of batches.
	Committed(ctx context.Context, gateway string) ([][2]uint64, error)
	// Missing lists, per gateway (all gateways when gateway is empty, in
	// order of gateway), the sequence numbers below its highest committed
	// one that are not committed batches, as ascending ranges with their
	// cause. Memory and time are proportional to the number of ranges.
	Missing(ctx context.Context, gateway string) ([]MissingRange, error)
	// Received returns when the ingest received each of the gateway's
	// committed batches among seqs (data batches, gap and audit records);
	// sequence numbers not committed are absent from the map.
	Received(ctx context.Context, gateway string, seqs []uint64) (map[uint64]time.Time, error)
	// Stats counts what the database holds.
	Stats(ctx context.Context) (Stats, error)

	// RecordDocs stores retained documents the gateways published: each
	// becomes its gateway's newest of its kind unless a newer one is stored,
	// and joins the gateway's history of that kind, of which the newest keep
	// (at least 1) are kept. A document that cannot be stored fails the
	// whole call with ErrInvalid.
	RecordDocs(ctx context.Context, docs []Doc, keep int) error
	// Docs returns the newest document of a kind of each gateway (of one
	// gateway when gateway is not empty), in order of gateway.
	Docs(ctx context.Context, kind, gateway string) ([]Doc, error)
	// DocHistory returns the documents of a kind received from since on, of
	// one gateway or of all when gateway is empty, by gateway and oldest
	// first.
	DocHistory(ctx context.Context, gateway, kind string, since time.Time) ([]Doc, error)
	// Activity returns, per gateway with a committed batch (one gateway when
	// gateway is not empty), its counters and newest batch, in order of
	// gateway.
	Activity(ctx context.Context, gateway string) ([]Activity, error)
	// LatestReadings returns the newest committed reading of each device
	// channel of one gateway, or of all when gateway is empty, with the time
	// of the channel's newest committed good reading (without the read-error
	// flag); Commit keeps both in the transaction that stores the batch.
	LatestReadings(ctx context.Context, gateway string) ([]LatestReading, error)
	// Series returns a gateway's committed readings whose time is from since
	// on, in order of device, channel and time.
	Series(ctx context.Context, gateway string, since time.Time) ([]Reading, error)
	// FleetStates returns every gateway's recorded fleet state, in order of
	// gateway.
	FleetStates(ctx context.Context) ([]FleetState, error)
	// RecordTransitions applies, in one transaction, each transition whose
	// From is the gateway's recorded state ("" for none), recording it with
	// the new state, and returns those it applied: of replicas racing to
	// record the same change, one does.
	RecordTransitions(ctx context.Context, ts []Transition) ([]Transition, error)
	// Transitions returns the state changes from since on, of one gateway or
	// of all when gateway is empty, newest first, at most limit (all when
	// limit ≤ 0).
	Transitions(ctx context.Context, gateway string, since time.Time, limit int) ([]Transition, error)
	// Close releases the database connections.
	Close() error
}

// Engine is a database engine a DSN names.
type Engine string

// Engines.
const (
	SQLite     Engine = "sqlite"
	PostgreSQL Engine = "postgres"
)

// ParseDSN returns the engine a DSN names and what its driver connects to:
// "postgres://...", "postgresql://..." and keyword/value strings such as
// "host=/run/postgresql dbname=edgegw" name PostgreSQL (the DSN is returned
// unchanged); "sqlite:PATH" or a plain PATH name a SQLite file (PATH is
// returned).
func ParseDSN(dsn string) (Engine, string, error) {
	switch {
	case strings.TrimSpace(dsn) == "":
		return "", "", fmt.Errorf("database dsn is empty: %w", ErrInvalid)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"), isKeywordDSN(dsn):
		return PostgreSQL, dsn, nil
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	if path == "" || strings.ContainsAny(path, "?\x00") {
		return "", "", fmt.Errorf("sqlite database path %q: empty or containing '?': %w", path, ErrInvalid)
	}
	return SQLite, path, nil
}

// pgKeywords are the connection keywords a keyword/value PostgreSQL DSN
// starts with.
var pgKeywords = []string{"host=", "hostaddr=", "port=", "dbname=", "user=", "service="}

func isKeywordDSN(dsn string) bool {
	for _, k := range pgKeywords {
		if strings.HasPrefix(dsn, k) {
			return true
		}
	}
	return false
}

// Open connects to the database dsn names (see ParseDSN). It refuses, with
// ErrSchemaVersion, a database whose schema is not at the version this edgegw
// needs, and a SQLite file that does not exist: `edgegw ingest migrate`
// creates and upgrades schemas. A PostgreSQL Store keeps a pgxpool pool,
// whose settings (pool_max_conns, ...) the DSN may carry.
func Open(ctx context.Context, dsn string) (Store, error) {
	eng, target, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if eng == PostgreSQL {
		return openPostgres(ctx, target)
	}
	return openSQLite(ctx, target)
}

// Migrate creates the schema in the database dsn names, or upgrades it, by
// applying the numbered migrations it lacks, each in its own transaction. It
// returns the versions before and after. Running it twice, or from two
// processes at once, is safe: the second finds nothing to do.
func Migrate(ctx context.Context, dsn string) (from, to int, err error) {
	eng, target, err := ParseDSN(dsn)
	if err != nil {
		return 0, 0, err
	}
	if eng == PostgreSQL {
		return migratePostgres(ctx, target)
	}
	return migrateSQLite(ctx, target)
}
