package store

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// querier is what the code shared by both engines needs of a connection or a
// transaction. Queries are written with PostgreSQL's $1-style parameters,
// each used once and in ascending order, since the SQLite adapter rewrites
// them to anonymous ? parameters (numbered ones cost SQLite a search per
// parameter when binding).
type querier interface {
	exec(ctx context.Context, q string, args ...any) error
	query(ctx context.Context, q string, args ...any) (rows, error)
}

// rows is a result set, as both pgx.Rows and an adapted *sql.Rows offer it.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// dialect is what differs between the engines in the shared SQL.
type dialect struct {
	maxParams int                 // bound parameters one statement takes
	ts        func(time.Time) any // a time as the engine stores it
	readings  func(context.Context, querier, []readingRow) error
	lock      func(context.Context, querier, []string) error // nil when the transaction already excludes other writers
	// mergeRange adds from..to, numbers not stored before, to a gateway's received ranges.
	mergeRange func(ctx context.Context, q querier, gateway string, from, to uint64) error
}

// blob returns b as a statement argument, nil as NULL.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// maxChunkRows bounds the rows of one multi-row statement, so that a few
// statement texts (powers of two up to it) serve any number of rows.
const maxChunkRows = 512

// chunks calls fn for consecutive chunks of n rows, each a power of two of at
// most maxChunkRows rows and perRow*rows parameters.
func chunks(n, perRow, maxParams int, fn func(off, k int) error) error {
	limit := min(maxChunkRows, maxParams/perRow)
	limit = 1 << (bits.Len(uint(limit)) - 1)
	for off := 0; off < n; {
		k := min(limit, 1<<(bits.Len(uint(n-off))-1))
		if err := fn(off, k); err != nil {
			return err
		}
		off += k
	}
	return nil
}

// sqlTexts caches generated statement texts by key.
var sqlTexts sync.Map

// valuesSQL returns prefix followed by rows parenthesised lists of cols
// parameters, numbered from 1, followed by suffix.
func valuesSQL(prefix string, rows, cols int, suffix string) string {
	key := prefix + "\x00" + strconv.Itoa(rows) + "\x00" + strconv.Itoa(cols) + "\x00" + suffix
	if s, ok := sqlTexts.Load(key); ok {
		return s.(string)
	}
	var sb strings.Builder
	sb.WriteString(prefix)
	for r := range rows {
		if r > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('(')
		for c := range cols {
			if c > 0 {
				sb.WriteByte(',')
			}
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(r*cols + c + 1))
		}
		sb.WriteByte(')')
	}
	sb.WriteString(suffix)
	sqlTexts.Store(key, sb.String())
	return sb.String()
}

// insertRows inserts n rows into table with multi-row INSERTs; row appends the
// values of row i to dst.
func insertRows(ctx context.Context, q querier, d *dialect, table string, cols []string, n int, row func(dst []any, i int) []any) error {
	return upsertRows(ctx, q, d, table, cols, "", n, row)
}

// upsertRows is insertRows with an ON CONFLICT clause (or "") after the values.
func upsertRows(ctx context.Context, q querier, d *dialect, table string, cols []string, onConflict string, n int, row func(dst []any, i int) []any) error {
	prefix := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	return chunks(n, len(cols), d.maxParams, func(off, k int) error {
		args := make([]any, 0, k*len(cols))
		for i := off; i < off+k; i++ {
			args = row(args, i)
		}
		if err := q.exec(ctx, valuesSQL(prefix, k, len(cols), onConflict), args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
		return nil
	})
}

// batchKey identifies a batch.
type batchKey struct {
	gateway string
	seq     uint64
}

// readingRow is one reading of a new batch, as Commit inserts it.
type readingRow struct {
	gateway string
	seq     uint64
	r       *Reading
}

// readingCols are the columns of readings, in the order both engines insert.
var readingCols = []string{"gateway", "seq", "device", "channel", "time", "value", "unit", "flags"}

// values returns the column values of r in readingCols order.
func (r readingRow) values(d *dialect, dst []any) []any {
	var v any
	if r.r.Value != nil {
		v = *r.r.Value
	}
	return append(dst, r.gateway, int64(r.seq), r.r.Device, r.r.Channel, d.ts(r.r.Time), v, r.r.Unit, int32(r.r.Flags))
}

// counters are a gateway's additions to its gateways row.
type counters struct {
	batches, readings, gapRecords, audits, dropped int64
	newSeqs                                        []uint64
	last                                           *Batch // the new batch of highest sequence number
}

// commitTx stores batches in the transaction q and returns their outcomes.
// It is Commit without the transaction's begin and end, shared by both
// engines.
func commitTx(ctx context.Context, q querier, d *dialect, batches []Batch, now time.Time) ([]Outcome, error) {
	out := make([]Outcome, len(batches))
	seen := make(map[batchKey]bool, len(batches))
	var fresh []int // first occurrence of each batch in this call
	var gateways []string
	for i := range batches {
		k := batchKey{batches[i].Gateway, batches[i].Seq}
		if !seen[k] {
			seen[k] = true
			fresh = append(fresh, i)
			gateways = append(gateways, k.gateway)
		}
	}
	slices.Sort(gateways)
	gateways = slices.Compact(gateways)
	if d.lock != nil {
		if err := d.lock(ctx, q, gateways); err != nil {
			return nil, err
		}
	}
	inserted, err := insertBatchRows(ctx, q, d, batches, fresh, now)
	if err != nil {
		return nil, err
	}
	var others []int
	for i := range batches {
		if inserted[batchKey{batches[i].Gateway, batches[i].Seq}] == i+1 {
			out[i] = New
		} else {
			others = append(others, i)
		}
	}
	var reused []Reject
	if len(others) > 0 {
		if reused, err = classifyOthers(ctx, q, d, batches, others, out); err != nil {
			return nil, err
		}
	}

	per := map[string]*counters{}
	var readings []readingRow
	var gaps, audits []*Batch
	for i := range batches {
		if out[i] != New {
			continue
		}
		b := &batches[i]
		c := per[b.Gateway]
		if c == nil {
			c = &counters{}
			per[b.Gateway] = c
		}
		c.batches++
		c.readings += int64(len(b.Readings))
		c.newSeqs = append(c.newSeqs, b.Seq)
		if c.last == nil || b.Seq > c.last.Seq {
			c.last = b
		}
		switch b.Class {
		case ClassGap:
			c.gapRecords++
			c.dropped += int64(b.Gap.Readings)
			gaps = append(gaps, b)
		case ClassAudit:
			c.audits++
			audits = append(audits, b)
		}
		for j := range b.Readings {
			readings = append(readings, readingRow{b.Gateway, b.Seq, &b.Readings[j]})
		}
	}
	if len(readings) > 0 {
		if err := d.readings(ctx, q, readings); err != nil {
			return nil, err
		}
		if err := upsertLatest(ctx, q, d, readings); err != nil {
			return nil, err
		}
	}
	if err := insertRows(ctx, q, d, "gaps", []string{"gateway", "seq", "from_seq", "to_seq", "batches", "readings", "reason"}, len(gaps),
		func(dst []any, i int) []any {
			b := gaps[i]
			return append(dst, b.Gateway, int64(b.Seq), int64(b.Gap.FromSeq), int64(b.Gap.ToSeq), int64(b.Gap.Batches), int64(b.Gap.Readings), b.Gap.Reason)
		}); err != nil {
		return nil, err
	}
	if err := insertRows(ctx, q, d, "audit", []string{"gateway", "seq", "time", "record"}, len(audits),
		func(dst []any, i int) []any {
			b := audits[i]
			return append(dst, b.Gateway, int64(b.Seq), d.ts(b.Created), string(b.Audit))
		}); err != nil {
		return nil, err
	}
	if err := insertRejects(ctx, q, d, reused); err != nil {
		return nil, err
	}
	for _, gw := range gateways {
		c := per[gw]
		if c == nil {
			continue
		}
		if err := addRanges(ctx, q, d, gw, c.newSeqs); err != nil {
			return nil, err
		}
		// The newest batch is the one of highest sequence number: a batch
		// published again late does not make a gateway look newer.
		if err := q.exec(ctx, `INSERT INTO gateways (gateway, batches, readings, gap_records, audits, dropped_readings, last_seq, last_received, config_version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (gateway) DO UPDATE SET
				batches = gateways.batches + excluded.batches,
				readings = gateways.readings + excluded.readings,
				gap_records = gateways.gap_records + excluded.gap_records,
				audits = gateways.audits + excluded.audits,
				dropped_readings = gateways.dropped_readings + excluded.dropped_readings,
				last_received = CASE WHEN excluded.last_seq > gateways.last_seq THEN excluded.last_received ELSE gateways.last_received END,
				config_version = CASE WHEN excluded.last_seq > gateways.last_seq THEN excluded.config_version ELSE gateways.config_version END,
				last_seq = CASE WHEN excluded.last_seq > gateways.last_seq THEN excluded.last_seq ELSE gateways.last_seq END`,
			gw, c.batches, c.readings, c.gapRecords, c.audits, c.dropped, int64(c.last.Seq), d.ts(c.last.Received), int64(c.last.ConfigVersion)); err != nil {
			return nil, fmt.Errorf("update counters of gateway %q: %w", gw, err)
		}
	}
	return out, nil
}

// batchCols are the columns of batches, in the order Commit inserts them.
var batchCols = []string{"gateway", "seq", "class", "key_id", "config_version", "created", "received", "committed_at", "readings", "size", "header_hash"}

// insertBatchRows inserts the batch rows of batches[fresh] that are not yet
// stored and returns, for each inserted one, its index in batches plus one.
func insertBatchRows(ctx context.Context, q querier, d *dialect, batches []Batch, fresh []int, now time.Time) (map[batchKey]int, error) {
	inserted := make(map[batchKey]int, len(fresh))
	index := make(map[batchKey]int, len(fresh))
	prefix := "INSERT INTO batches (" + strings.Join(batchCols, ", ") + ") VALUES "
	err := chunks(len(fresh), len(batchCols), d.maxParams, func(off, k int) error {
		args := make([]any, 0, k*len(batchCols))
		for _, i := range fresh[off : off+k] {
			b := &batches[i]
			index[batchKey{b.Gateway, b.Seq}] = i
			args = append(args, b.Gateway, int64(b.Seq), b.Class, blob(b.KeyID), int64(b.ConfigVersion),
				d.ts(b.Created), d.ts(b.Received), d.ts(now), int32(len(b.Readings)), int32(b.Size), b.HeaderHash[:])
		}
		rs, err := q.query(ctx, valuesSQL(prefix, k, len(batchCols), " ON CONFLICT (gateway, seq) DO NOTHING RETURNING gateway, seq"), args...)
		if err != nil {
			return fmt.Errorf("insert into batches: %w", err)
		}
		defer rs.Close()
		for rs.Next() {
			var k batchKey
			var seq int64
			if err := rs.Scan(&k.gateway, &seq); err != nil {
				return fmt.Errorf("insert into batches: %w", err)
			}
			k.seq = uint64(seq)
			inserted[k] = index[k] + 1
		}
		if err := rs.Err(); err != nil {
			return fmt.Errorf("insert into batches: %w", err)
		}
		return nil
	})
	return inserted, err
}

// classifyOthers sets the outcome of the batches[others], which Commit did
// not insert, by comparing their header hashes with the stored ones, and
// returns the rejects of the reused ones.
func classifyOthers(ctx context.Context, q querier, d *dialect, batches []Batch, others []int, out []Outcome) ([]Reject, error) {
	byGateway := map[string][]uint64{}
	for _, i := range others {
		byGateway[batches[i].Gateway] = append(byGateway[batches[i].Gateway], batches[i].Seq)
	}
	stored := map[batchKey][]byte{}
	for gw, seqs := range byGateway {
		err := chunks(len(seqs), 1, d.maxParams-1, func(off, k int) error {
			args := []any{gw}
			for _, s := range seqs[off : off+k] {
				args = append(args, int64(s))
			}
			var in strings.Builder
			for j := range k {
				if j > 0 {
					in.WriteByte(',')
				}
				in.WriteString("$" + strconv.Itoa(j+2))
			}
			rs, err := q.query(ctx, "SELECT seq, header_hash FROM batches WHERE gateway = $1 AND seq IN ("+in.String()+")", args...)
			if err != nil {
				return fmt.Errorf("read stored header hashes of gateway %q: %w", gw, err)
			}
			defer rs.Close()
			for rs.Next() {
				var seq int64
				var h []byte
				if err := rs.Scan(&seq, &h); err != nil {
					return fmt.Errorf("read stored header hashes of gateway %q: %w", gw, err)
				}
				stored[batchKey{gw, uint64(seq)}] = h
			}
			return rs.Err()
		})
		if err != nil {
			return nil, err
		}
	}
	var rejects []Reject
	for _, i := range others {
		b := &batches[i]
		h, ok := stored[batchKey{b.Gateway, b.Seq}]
		switch {
		case !ok:
			return nil, fmt.Errorf("batch %q seq %d neither inserted nor stored", b.Gateway, b.Seq)
		case string(h) == string(b.HeaderHash[:]):
			out[i] = Duplicate
		default:
			out[i] = Reused
			rejects = append(rejects, Reject{Time: b.Received, Reason: ReasonReusedSeq, Gateway: b.Gateway, Size: b.Size,
				Detail: fmt.Sprintf("seq %d received again with header sha256 %s, committed with %s", b.Seq, hex.EncodeToString(b.HeaderHash[:]), hex.EncodeToString(h))})
		}
	}
	return rejects, nil
}

// addRanges adds the gateway's newly inserted sequence numbers to its
// received ranges, one run of consecutive numbers at a time.
func addRanges(ctx context.Context, q querier, d *dialect, gateway string, seqs []uint64) error {
	slices.Sort(seqs)
	var runs [][2]uint64
	for _, s := range seqs {
		runs = appendRange(runs, s, s)
	}
	for _, r := range runs {
		if err := d.mergeRange(ctx, q, gateway, r[0], r[1]); err != nil {
			return fmt.Errorf("merge received ranges of gateway %q: %w", gateway, err)
		}
	}
	return nil
}

// mergeRangeSQL adds from..to to the gateway's received ranges by deleting
// the ranges it touches and inserting their union. The numbers were not
// stored before, so only the range ending at from-1 and the one starting at
// to+1 can touch it.
func mergeRangeSQL(ctx context.Context, q querier, gateway string, from, to uint64) error {
	rs, err := q.query(ctx, `DELETE FROM received_ranges WHERE gateway = $1 AND (to_seq = $2 OR from_seq = $3) RETURNING from_seq, to_seq`,
		gateway, int64(from)-1, int64(to)+1)
	if err != nil {
		return err
	}
	for rs.Next() {
		var f, t int64
		if err := rs.Scan(&f, &t); err != nil {
			rs.Close()
			return err
		}
		from, to = min(from, uint64(f)), max(to, uint64(t))
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return err
	}
	return q.exec(ctx, `INSERT INTO received_ranges (gateway, from_seq, to_seq) VALUES ($1, $2, $3)`, gateway, int64(from), int64(to))
}

// insertRejects stores rejects, their text cleaned.
func insertRejects(ctx context.Context, q querier, d *dialect, rejects []Reject) error {
	return insertRows(ctx, q, d, "rejects", []string{"time", "reason", "gateway", "topic", "detail", "size"}, len(rejects),
		func(dst []any, i int) []any {
			r := &rejects[i]
			return append(dst, d.ts(r.Time), cleanText(r.Reason), cleanText(r.Gateway), cleanText(r.Topic), cleanText(r.Detail), int32(min(max(r.Size, 0), 1<<31-1)))
		})
}

// committed reads the gateway's committed ranges: its received ranges merged
// with the ranges its gap records cover.
func committed(ctx context.Context, q querier, gateway string) ([][2]uint64, error) {
	rs, err := q.query(ctx, `SELECT from_seq, to_seq FROM received_ranges WHERE gateway = $1
		UNION ALL SELECT from_seq, to_seq FROM gaps WHERE gateway = $2 ORDER BY 1`, gateway, gateway)
	if err != nil {
		return nil, fmt.Errorf("read committed ranges of gateway %q: %w", gateway, err)
	}
	defer rs.Close()
	var out [][2]uint64
	for rs.Next() {
		var f, t int64
		if err := rs.Scan(&f, &t); err != nil {
			return nil, fmt.Errorf("read committed ranges of gateway %q: %w", gateway, err)
		}
		out = appendRange(out, uint64(f), uint64(t))
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read committed ranges of gateway %q: %w", gateway, err)
	}
	return out, nil
}

// missing reads the received ranges and gap records of one gateway, or of
// all when gateway is empty, in one ordered pass, holding one gateway's
// ranges at a time.
func missing(ctx context.Context, q querier, gateway string) ([]MissingRange, error) {
	where1, where2, args := "", "", []any(nil)
	if gateway != "" {
		where1, where2, args = " WHERE gateway = $1", " WHERE gateway = $2", []any{gateway, gateway}
	}
	rs, err := q.query(ctx, `SELECT gateway, 0, from_seq, to_seq, 0, 0, '' FROM received_ranges`+where1+`
		UNION ALL SELECT gateway, 1, from_seq, to_seq, seq, readings, reason FROM gaps`+where2+`
		ORDER BY 1, 2, 3, 5`, args...)
	if err != nil {
		return nil, fmt.Errorf("read missing ranges: %w", err)
	}
	defer rs.Close()
	var out []MissingRange
	var cur string
	var received [][2]uint64
	var gaps []gapRow
	flush := func() {
		if cur != "" {
			out = append(out, missingRanges(cur, received, gaps)...)
		}
		received, gaps = received[:0], gaps[:0]
	}
	for rs.Next() {
		var gw, reason string
		var kind, from, to, seq, n int64
		if err := rs.Scan(&gw, &kind, &from, &to, &seq, &n, &reason); err != nil {
			return nil, fmt.Errorf("read missing ranges: %w", err)
		}
		if gw != cur {
			flush()
			cur = gw
		}
		if kind == 0 {
			received = append(received, [2]uint64{uint64(from), uint64(to)})
		} else {
			gaps = append(gaps, gapRow{seq: uint64(seq), from: uint64(from), to: uint64(to), readings: uint64(n), reason: reason})
		}
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read missing ranges: %w", err)
	}
	flush()
	return out, nil
}

// stats reads the gateways' counters and the rejects per reason.
func stats(ctx context.Context, q querier) (Stats, error) {
	var st Stats
	rs, err := q.query(ctx, `SELECT count(*), CAST(COALESCE(SUM(batches), 0) AS BIGINT), CAST(COALESCE(SUM(readings), 0) AS BIGINT),
		CAST(COALESCE(SUM(gap_records), 0) AS BIGINT), CAST(COALESCE(SUM(audits), 0) AS BIGINT), CAST(COALESCE(SUM(dropped_readings), 0) AS BIGINT)
		FROM gateways WHERE batches > 0`)
	if err != nil {
		return st, fmt.Errorf("read stats: %w", err)
	}
	var n [6]int64
	for rs.Next() {
		if err := rs.Scan(&n[0], &n[1], &n[2], &n[3], &n[4], &n[5]); err != nil {
			rs.Close()
			return st, fmt.Errorf("read stats: %w", err)
		}
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return st, fmt.Errorf("read stats: %w", err)
	}
	st.Gateways, st.Batches, st.Readings = uint64(n[0]), uint64(n[1]), uint64(n[2])
	st.GapRecords, st.Audits, st.DroppedReadings = uint64(n[3]), uint64(n[4]), uint64(n[5])
	st.Rejects = map[string]uint64{}
	rs, err = q.query(ctx, `SELECT reason, count(*) FROM rejects GROUP BY reason`)
	if err != nil {
		return st, fmt.Errorf("read reject counts: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var reason string
		var c int64
		if err := rs.Scan(&reason, &c); err != nil {
			return st, fmt.Errorf("read reject counts: %w", err)
		}
		st.Rejects[reason] = uint64(c)
	}
	if err := rs.Err(); err != nil {
		return st, fmt.Errorf("read reject counts: %w", err)
	}
	return st, nil
}
