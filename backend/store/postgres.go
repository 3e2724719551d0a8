package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Advisory lock keys of edgegw ingest in PostgreSQL.
const (
	migrateLock   int64 = 0x656467_6567770001 // held by Migrate for its whole run
	partitionLock int64 = 0x656467_6567770002 // held while a day's readings partition is created
	// pgRetries is how often Commit runs a transaction that PostgreSQL aborted
	// for a deadlock or a serialization failure.
	pgRetries = 3
)

// pgSchema is the schema_version table in PostgreSQL.
var pgSchema = schemaTable{
	create: `CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)`,
	exists: `SELECT to_regclass('schema_version') IS NOT NULL`,
}

func pgDialect() *dialect {
	d := &dialect{
		maxParams:  65535,
		ts:         func(t time.Time) any { return t },
		lock:       pgLock,
		mergeRange: pgMergeRange,
	}
	d.readings = func(ctx context.Context, q querier, rows []readingRow) error {
		tx := q.(*pgTx)
		if err := tx.flush(ctx); err != nil {
			return err
		}
		vals := make([]any, 0, len(readingCols))
		_, err := tx.tx.CopyFrom(ctx, pgx.Identifier{"readings"}, readingCols,
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return rows[i].values(d, vals[:0]), nil }))
		if err != nil {
			return fmt.Errorf("copy into readings: %w", err)
		}
		return nil
	}
	return d
}

// pgLock locks the gateways' rows, creating those missing, in one order, so
// that replicas committing batches of one gateway take turns and replicas
// committing several gateways do not deadlock.
func pgLock(ctx context.Context, q querier, gateways []string) error {
	if err := q.exec(ctx, `INSERT INTO gateways (gateway) SELECT g FROM unnest($1::text[]) AS g ORDER BY g ON CONFLICT DO NOTHING`, gateways); err != nil {
		return fmt.Errorf("add gateways: %w", err)
	}
	if err := q.exec(ctx, `SELECT gateway FROM gateways WHERE gateway = ANY($1) ORDER BY gateway FOR UPDATE`, gateways); err != nil {
		return fmt.Errorf("lock gateways: %w", err)
	}
	return nil
}

// pgMergeRange is mergeRangeSQL in one statement, which pgTx can queue.
func pgMergeRange(ctx context.Context, q querier, gateway string, from, to uint64) error {
	return q.exec(ctx, `WITH old AS (
			DELETE FROM received_ranges WHERE gateway = $1 AND (to_seq = $2 OR from_seq = $3) RETURNING from_seq, to_seq)
		INSERT INTO received_ranges (gateway, from_seq, to_seq)
			SELECT $4, LEAST($5, MIN(from_seq)), GREATEST($6, MAX(to_seq)) FROM old`,
		gateway, int64(from)-1, int64(to)+1, gateway, int64(from), int64(to))
}

// pgStore is the Store on PostgreSQL: a connection pool, one connection and
// transaction per Commit.
type pgStore struct {
	sqlStore
	pool *pgxpool.Pool

	mu   sync.Mutex
	days map[time.Time]bool // days whose readings partition is known to exist
}

func openPostgres(ctx context.Context, dsn string) (Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres dsn: %w: %w", err, ErrInvalid)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres %s: %w", cfg.ConnConfig.Database, err)
	}
	if err := checkSchema(ctx, pgQ{pool}, PostgreSQL, pgSchema.exists); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres database %s: %w", cfg.ConnConfig.Database, err)
	}
	s := &pgStore{
		sqlStore: sqlStore{
			d:     pgDialect(),
			where: "postgres",
			read:  func() querier { return pgQ{pool} },
			inTx: func(ctx context.Context, fn func(q querier) error) error {
				return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return fn(pgQ{tx}) })
			},
		},
		pool: pool,
		days: map[time.Time]bool{},
	}
	s.commit = s.commitRetrying
	return s, nil
}

func migratePostgres(ctx context.Context, dsn string) (from, to int, err error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres dsn: %w: %w", err, ErrInvalid)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, 0, fmt.Errorf("connect to postgres %s: %w", cfg.Database, err)
	}
	defer conn.Close(context.Background()) // also releases the advisory lock
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return 0, 0, fmt.Errorf("lock postgres %s for migration: %w", cfg.Database, err)
	}
	m := &migrator{PostgreSQL, pgDialect(), pgSchema, func(ctx context.Context, fn func(q querier) error) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return fn(pgQ{tx}) })
	}}
	from, to, err = m.apply(ctx)
	if err != nil {
		return from, to, fmt.Errorf("migrate postgres %s: %w", cfg.Database, err)
	}
	return from, to, nil
}

// commitRetrying stores validated batches, creating the partitions they
// need and retrying deadlocks and serialization failures.
func (s *pgStore) commitRetrying(ctx context.Context, batches []Batch) ([]Outcome, error) {
	if err := s.ensurePartitions(ctx, batches); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		var out []Outcome
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			q := &pgTx{tx: tx}
			var err error
			if out, err = commitTx(ctx, q, s.d, batches, time.Now()); err != nil {
				return err
			}
			return q.flush(ctx)
		})
		if err == nil {
			return out, nil
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			switch pe.Code {
			case "40P01", "40001": // deadlock, serialization failure
				if attempt < pgRetries {
					continue
				}
			case "23514": // no partition for a row: someone dropped one; find out again next time
				s.mu.Lock()
				clear(s.days)
				s.mu.Unlock()
			}
		}
		return nil, fmt.Errorf("commit %d batches to postgres: %w", len(batches), err)
	}
}

// ensurePartitions creates the readings partitions of the days the batches'
// readings fall on, unless known to exist.
func (s *pgStore) ensurePartitions(ctx context.Context, batches []Batch) error {
	var need []time.Time
	s.mu.Lock()
	for i := range batches {
		for j := range batches[i].Readings {
			day := batches[i].Readings[j].Time.UTC().Truncate(24 * time.Hour)
			if !s.days[day] && !slices.Contains(need, day) {
				need = append(need, day)
			}
		}
	}
	s.mu.Unlock()
	for _, day := range need {
		if err := s.createPartition(ctx, day); err != nil {
			return err
		}
		s.mu.Lock()
		s.days[day] = true
		s.mu.Unlock()
	}
	return nil
}

// createPartition creates the readings partition of one day (UTC) if it does
// not exist, under an advisory lock so that replicas do not race on it.
func (s *pgStore) createPartition(ctx context.Context, day time.Time) error {
	y, m, d := day.Date()
	name := fmt.Sprintf("readings_p%04d%02d%02d", y, m, d)
	ny, nm, nd := day.AddDate(0, 0, 1).Date()
	ddl := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF readings FOR VALUES FROM ('%04d-%02d-%02d 00:00:00+00') TO ('%04d-%02d-%02d 00:00:00+00')`,
		name, y, m, d, ny, nm, nd)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionLock); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, ddl)
		return err
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P07" { // duplicate_table: created by someone else meanwhile
		err = nil
	}
	if err != nil {
		return fmt.Errorf("create readings partition %s: %w", name, err)
	}
	return nil
}

// Close implements Store.
func (s *pgStore) Close() error {
	s.pool.Close()
	return nil
}

// pgDB is what pgx's pool, connection and transaction share.
type pgDB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// pgQ adapts a pgx pool or transaction to querier.
type pgQ struct{ db pgDB }

func (q pgQ) exec(ctx context.Context, query string, args ...any) error {
	_, err := q.db.Exec(ctx, query, args...)
	return err
}

func (q pgQ) query(ctx context.Context, query string, args ...any) (rows, error) {
	return q.db.Query(ctx, query, args...)
}

// pgTx is a querier on a transaction that queues the statements it executes
// and sends them in one round trip, before its next query, its next COPY, or
// its flush before commit. The error of a queued statement is returned then.
type pgTx struct {
	tx     pgx.Tx
	queued pgx.Batch
}

func (q *pgTx) exec(_ context.Context, query string, args ...any) error {
	q.queued.Queue(query, args...)
	return nil
}

func (q *pgTx) query(ctx context.Context, query string, args ...any) (rows, error) {
	if err := q.flush(ctx); err != nil {
		return nil, err
	}
	return q.tx.Query(ctx, query, args...)
}

// flush runs the queued statements.
func (q *pgTx) flush(ctx context.Context) error {
	if q.queued.Len() == 0 {
		return nil
	}
	err := q.tx.SendBatch(ctx, &q.queued).Close()
	q.queued = pgx.Batch{}
	if err != nil {
		return fmt.Errorf("queued statements: %w", err)
	}
	return nil
}
