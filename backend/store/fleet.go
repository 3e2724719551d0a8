package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kinds of the retained documents a gateway publishes that the ingest keeps.
const (
	DocHealth       = "health"        // <prefix>/<id>/health: the health document, or the last will {"state":"offline"}
	DocConfigStatus = "config-status" // <prefix>/<id>/config/status: the fleet configuration state
)

// MaxDocSize is the largest document body RecordDocs stores.
const MaxDocSize = 64 << 10

// Doc is one retained JSON document a gateway published, as the ingest
// received it.
type Doc struct {
	Gateway  string
	Kind     string    // DocHealth or DocConfigStatus
	Received time.Time // when the ingest received it
	Body     []byte    // one JSON object of at most MaxDocSize bytes
}

// Activity is what the database holds of one gateway's committed batches.
type Activity struct {
	Gateway         string
	Batches         uint64
	Readings        uint64
	GapRecords      uint64
	DroppedReadings uint64    // readings its committed gap records say it dropped
	LastSeq         uint64    // highest committed sequence number
	LastReceived    time.Time // when the ingest received that batch
	ConfigVersion   uint64    // the configuration version that batch was made under
}

// LatestReading is the newest committed reading of one gateway's device
// channel, with the time of its newest good one.
type LatestReading struct {
	Gateway string
	Reading
	// LastGood is the time of the channel's newest committed reading
	// without the read-error flag; zero when none is known (none committed
	// since the database was migrated to schema version 3, unless the
	// newest reading then was good).
	LastGood time.Time
}

// FleetState is a gateway's fleet state as last recorded.
type FleetState struct {
	Gateway string
	State   string
	Reason  string
	Since   time.Time
}

// Transition is a change of a gateway's fleet state.
type Transition struct {
	Gateway  string
	Time     time.Time
	From, To string // From is "" for a gateway without a recorded state
	Reason   string // why the gateway is in To
	Alert    bool   // the change raised an alert
}

// checkDoc reports why d cannot be stored, wrapping ErrInvalid.
func checkDoc(d *Doc) error {
	err := firstErr(text("gateway", d.Gateway), inTime("received", d.Received))
	switch {
	case err != nil:
	case d.Gateway == "":
		err = fmt.Errorf("empty gateway")
	case d.Kind != DocHealth && d.Kind != DocConfigStatus:
		err = fmt.Errorf("kind %q is neither %s nor %s", d.Kind, DocHealth, DocConfigStatus)
	case len(d.Body) > MaxDocSize:
		err = fmt.Errorf("body of %d bytes, more than %d", len(d.Body), MaxDocSize)
	case !isJSONObject(d.Body):
		err = fmt.Errorf("body is not one JSON object")
	}
	if err != nil {
		return fmt.Errorf("%s document of gateway %q: %w: %w", d.Kind, d.Gateway, err, ErrInvalid)
	}
	return nil
}

func isJSONObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}

// recordDocs stores docs as each gateway's newest of their kind (unless a
// newer one is stored) and in its history, keeping the newest keep of them.
func recordDocs(ctx context.Context, q querier, d *dialect, docs []Doc, keep int) error {
	for i := range docs {
		doc := &docs[i]
		at := d.ts(doc.Received)
		if err := q.exec(ctx, `INSERT INTO gateway_docs (gateway, kind, received, body) VALUES ($1, $2, $3, $4)
			ON CONFLICT (kind, gateway) DO UPDATE SET received = excluded.received, body = excluded.body
			WHERE excluded.received >= gateway_docs.received`, doc.Gateway, doc.Kind, at, string(doc.Body)); err != nil {
			return fmt.Errorf("store %s document of gateway %q: %w", doc.Kind, doc.Gateway, err)
		}
		if err := q.exec(ctx, `INSERT INTO gateway_doc_history (gateway, kind, received, body) VALUES ($1, $2, $3, $4)`,
			doc.Gateway, doc.Kind, at, string(doc.Body)); err != nil {
			return fmt.Errorf("store %s history of gateway %q: %w", doc.Kind, doc.Gateway, err)
		}
		if err := q.exec(ctx, `DELETE FROM gateway_doc_history WHERE gateway = $1 AND kind = $2 AND received <
			(SELECT received FROM gateway_doc_history WHERE gateway = $3 AND kind = $4 ORDER BY received DESC LIMIT 1 OFFSET $5)`,
			doc.Gateway, doc.Kind, doc.Gateway, doc.Kind, int64(keep-1)); err != nil {
			return fmt.Errorf("trim %s history of gateway %q: %w", doc.Kind, doc.Gateway, err)
		}
	}
	return nil
}

// scanAll runs a query and calls scan for each row.
func scanAll(ctx context.Context, q querier, what, sql string, args []any, scan func(rows) error) error {
	rs, err := q.query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	defer rs.Close()
	for rs.Next() {
		if err := scan(rs); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	return nil
}

// gatewayFilter returns " AND gateway = $n" and its argument when gateway is
// not empty.
func gatewayFilter(gateway string, n int) (string, []any) {
	if gateway == "" {
		return "", nil
	}
	return fmt.Sprintf(" AND gateway = $%d", n), []any{gateway}
}

// docs reads the newest documents of a kind, of one gateway or all.
func docs(ctx context.Context, q querier, kind, gateway string) ([]Doc, error) {
	where, args := gatewayFilter(gateway, 2)
	return scanDocs(ctx, q, kind, kind+" documents", `SELECT gateway, received, body FROM gateway_docs WHERE kind = $1`+where+` ORDER BY gateway`,
		append([]any{kind}, args...))
}

// docHistory reads the documents of a kind received from since on, of one
// gateway or all, by gateway and oldest first.
func docHistory(ctx context.Context, q querier, d *dialect, gateway, kind string, since time.Time) ([]Doc, error) {
	where, args := gatewayFilter(gateway, 3)
	return scanDocs(ctx, q, kind, kind+" history", `SELECT gateway, received, body FROM gateway_doc_history WHERE kind = $1 AND received >= $2`+where+` ORDER BY gateway, received`,
		append([]any{kind, d.ts(since)}, args...))
}

// scanDocs runs a query whose rows are (gateway, received, body) and returns
// them as documents of kind.
func scanDocs(ctx context.Context, q querier, kind, what, query string, args []any) ([]Doc, error) {
	var out []Doc
	err := scanAll(ctx, q, what, query, args, func(rs rows) error {
		doc := Doc{Kind: kind}
		var at dbTime
		var body string
		if err := rs.Scan(&doc.Gateway, &at, &body); err != nil {
			return err
		}
		doc.Received, doc.Body = at.t, []byte(body)
		out = append(out, doc)
		return nil
	})
	return out, err
}

// activity reads the gateways' rows, of one gateway or all.
func activity(ctx context.Context, q querier, gateway string) ([]Activity, error) {
	where, args := gatewayFilter(gateway, 1)
	var out []Activity
	err := scanAll(ctx, q, "gateway activity", `SELECT gateway, batches, readings, gap_records, dropped_readings, last_seq, last_received, config_version
		FROM gateways WHERE batches > 0`+where+` ORDER BY gateway`, args, func(rs rows) error {
		var a Activity
		var n [6]int64
		var at dbTime
		if err := rs.Scan(&a.Gateway, &n[0], &n[1], &n[2], &n[3], &n[4], &at, &n[5]); err != nil {
			return err
		}
		a.Batches, a.Readings, a.GapRecords, a.DroppedReadings, a.LastSeq, a.ConfigVersion =
			uint64(n[0]), uint64(n[1]), uint64(n[2]), uint64(n[3]), uint64(n[4]), uint64(n[5])
		a.LastReceived = at.t
		out = append(out, a)
		return nil
	})
	return out, err
}

// readErrorFlag is reading.ReadError, the flag of a reading whose device
// could not be read; its bit value is part of the envelope contract
// (docs/envelope.md), and the store links nothing of drivers/.
const readErrorFlag = 1 << 4

// latestCols are the columns of latest_readings.
var latestCols = []string{"gateway", "device", "channel", "time", "value", "unit", "flags", "good_time"}

// upsertLatest keeps, per gateway, device and channel, the newest of rows
// unless a newer reading is stored, and the time of the newest of them
// without the read-error flag unless a newer good one is stored: one
// multi-row statement per chunk of channels.
func upsertLatest(ctx context.Context, q querier, d *dialect, rs []readingRow) error {
	type key struct{ gw, dev, ch string }
	type newest struct {
		r       readingRow
		good    time.Time
		hasGood bool
	}
	by := map[key]*newest{}
	for _, r := range rs {
		k := key{r.gateway, r.r.Device, r.r.Channel}
		n := by[k]
		if n == nil {
			n = &newest{r: r}
			by[k] = n
		} else if r.r.Time.After(n.r.r.Time) {
			n.r = r
		}
		if r.r.Flags&readErrorFlag == 0 && (!n.hasGood || r.r.Time.After(n.good)) {
			n.good, n.hasGood = r.r.Time, true
		}
	}
	keys := make([]key, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	// One order for every transaction, so that replicas do not deadlock.
	slices.SortFunc(keys, func(a, b key) int {
		if a.gw != b.gw {
			return cmp.Compare(a.gw, b.gw)
		}
		if a.dev != b.dev {
			return cmp.Compare(a.dev, b.dev)
		}
		return cmp.Compare(a.ch, b.ch)
	})
	// A batch published again late may hold an older newest reading but a
	// newer good one: each column takes the newer of the two.
	return upsertRows(ctx, q, d, "latest_readings", latestCols,
		` ON CONFLICT (gateway, device, channel) DO UPDATE SET
			time = CASE WHEN excluded.time >= latest_readings.time THEN excluded.time ELSE latest_readings.time END,
			value = CASE WHEN excluded.time >= latest_readings.time THEN excluded.value ELSE latest_readings.value END,
			unit = CASE WHEN excluded.time >= latest_readings.time THEN excluded.unit ELSE latest_readings.unit END,
			flags = CASE WHEN excluded.time >= latest_readings.time THEN excluded.flags ELSE latest_readings.flags END,
			good_time = CASE WHEN latest_readings.good_time IS NULL OR excluded.good_time > latest_readings.good_time
				THEN excluded.good_time ELSE latest_readings.good_time END`, len(keys),
		func(dst []any, i int) []any {
			n := by[keys[i]]
			var v, good any
			if n.r.r.Value != nil {
				v = *n.r.r.Value
			}
			if n.hasGood {
				good = d.ts(n.good)
			}
			return append(dst, n.r.gateway, n.r.r.Device, n.r.r.Channel, d.ts(n.r.r.Time), v, n.r.r.Unit, int32(n.r.r.Flags), good)
		})
}

// scanReading scans extra, then device, channel, unit, time, value and
// flags.
func scanReading(rs rows, r *Reading, extra ...any) error {
	var at dbTime
	var flags int64
	if err := rs.Scan(append(extra, &r.Device, &r.Channel, &r.Unit, &at, &r.Value, &flags)...); err != nil {
		return err
	}
	r.Time, r.Flags = at.t, uint16(flags)
	return nil
}

// latestReadings reads the newest reading per device channel, of one gateway
// or all.
func latestReadings(ctx context.Context, q querier, gateway string) ([]LatestReading, error) {
	where, args := "", []any(nil)
	if gateway != "" {
		where, args = " WHERE gateway = $1", []any{gateway}
	}
	var out []LatestReading
	err := scanAll(ctx, q, "latest readings", `SELECT good_time, gateway, device, channel, unit, time, value, flags FROM latest_readings`+where+
		` ORDER BY gateway, device, channel`, args, func(rs rows) error {
		var l LatestReading
		var good dbTime
		if err := scanReading(rs, &l.Reading, &good, &l.Gateway); err != nil {
			return err
		}
		l.LastGood = good.t
		out = append(out, l)
		return nil
	})
	return out, err
}

// series reads a gateway's readings from since on, by device, channel and
// time.
func series(ctx context.Context, q querier, d *dialect, gateway string, since time.Time) ([]Reading, error) {
	var out []Reading
	err := scanAll(ctx, q, "readings of gateway "+gateway, `SELECT device, channel, unit, time, value, flags FROM readings
		WHERE gateway = $1 AND time >= $2 ORDER BY device, channel, time`, []any{gateway, d.ts(since)}, func(rs rows) error {
		var r Reading
		if err := scanReading(rs, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// fleetStates reads every gateway's recorded fleet state.
func fleetStates(ctx context.Context, q querier) ([]FleetState, error) {
	var out []FleetState
	err := scanAll(ctx, q, "fleet states", `SELECT gateway, state, reason, since FROM fleet_states ORDER BY gateway`, nil, func(rs rows) error {
		var s FleetState
		var at dbTime
		if err := rs.Scan(&s.Gateway, &s.State, &s.Reason, &at); err != nil {
			return err
		}
		s.Since = at.t
		out = append(out, s)
		return nil
	})
	return out, err
}

// recordTransitions applies each transition whose From is the gateway's
// recorded state (no state for ""), and returns the applied ones.
func recordTransitions(ctx context.Context, q querier, d *dialect, ts []Transition) ([]Transition, error) {
	var applied []Transition
	for _, t := range ts {
		if err := firstErr(text("gateway", t.Gateway), text("state", t.To), text("reason", t.Reason), inTime("time", t.Time)); err != nil {
			return nil, fmt.Errorf("transition of gateway %q: %w: %w", t.Gateway, err, ErrInvalid)
		}
		sql := `INSERT INTO fleet_states (gateway, state, reason, since) VALUES ($1, $2, $3, $4) ON CONFLICT (gateway) DO NOTHING RETURNING gateway`
		args := []any{t.Gateway, t.To, t.Reason, d.ts(t.Time)}
		if t.From != "" {
			sql = `UPDATE fleet_states SET state = $1, reason = $2, since = $3 WHERE gateway = $4 AND state = $5 RETURNING gateway`
			args = []any{t.To, t.Reason, d.ts(t.Time), t.Gateway, t.From}
		}
		n := 0
		if err := scanAll(ctx, q, "fleet state of "+t.Gateway, sql, args, func(rows) error { n++; return nil }); err != nil {
			return nil, err
		}
		if n == 0 {
			continue // another replica recorded a change first
		}
		if err := q.exec(ctx, `INSERT INTO fleet_transitions (gateway, time, from_state, to_state, reason, alert) VALUES ($1, $2, $3, $4, $5, $6)`,
			t.Gateway, d.ts(t.Time), t.From, t.To, t.Reason, t.Alert); err != nil {
			return nil, fmt.Errorf("record transition of gateway %q: %w", t.Gateway, err)
		}
		applied = append(applied, t)
	}
	return applied, nil
}

// transitions reads the state changes from since on, of one gateway or all,
// newest first, at most limit of them (all when limit ≤ 0).
func transitions(ctx context.Context, q querier, d *dialect, gateway string, since time.Time, limit int) ([]Transition, error) {
	where, args := gatewayFilter(gateway, 2)
	sql := `SELECT gateway, time, from_state, to_state, reason, alert FROM fleet_transitions WHERE time >= $1` + where + ` ORDER BY time DESC, gateway`
	if limit > 0 {
		sql += fmt.Sprintf(" LIMIT %d", limit)
	}
	var out []Transition
	err := scanAll(ctx, q, "fleet transitions", sql, append([]any{d.ts(since)}, args...), func(rs rows) error {
		var t Transition
		var at dbTime
		if err := rs.Scan(&t.Gateway, &at, &t.From, &t.To, &t.Reason, &t.Alert); err != nil {
			return err
		}
		t.Time = at.t
		out = append(out, t)
		return nil
	})
	return out, err
}

// maxReceivedSeqs bounds the sequence numbers of one query of received.
const maxReceivedSeqs = 256

// received reads when the ingest received the gateway's batches seqs, of
// those committed.
func received(ctx context.Context, q querier, gateway string, seqs []uint64) (map[uint64]time.Time, error) {
	out := make(map[uint64]time.Time, len(seqs))
	for len(seqs) > 0 {
		part := seqs[:min(len(seqs), maxReceivedSeqs)]
		seqs = seqs[len(part):]
		var sb strings.Builder
		args := []any{gateway}
		for _, seq := range part {
			if seq == 0 || seq > MaxSeq {
				continue // never committed
			}
			if len(args) > 1 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "$%d", len(args)+1)
			args = append(args, int64(seq))
		}
		if len(args) == 1 {
			continue
		}
		err := scanAll(ctx, q, "batch times of gateway "+gateway, `SELECT seq, received FROM batches WHERE gateway = $1 AND seq IN (`+sb.String()+`)`,
			args, func(rs rows) error {
				var seq int64
				var at dbTime
				if err := rs.Scan(&seq, &at); err != nil {
					return err
				}
				out[uint64(seq)] = at.t
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// dbTime scans a time as either engine returns it: SQLite's text
// (sqliteTime), PostgreSQL's timestamptz, or NULL (the zero time).
type dbTime struct{ t time.Time }

// Scan implements sql.Scanner.
func (d *dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		d.t = time.Time{}
	case time.Time:
		d.t = x.UTC()
	case string:
		return d.parse(x)
	case []byte:
		return d.parse(string(x))
	default:
		return fmt.Errorf("time column holds %T", v)
	}
	return nil
}

func (d *dbTime) parse(s string) error {
	t, err := time.Parse(sqliteTime, s)
	if err != nil {
		return fmt.Errorf("time column: %w", err)
	}
	d.t = t
	return nil
}
