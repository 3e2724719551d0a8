package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"sync"
	"time"

	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// SQLite connection settings. WAL lets readers run beside the writer;
// synchronous=FULL syncs the WAL at every commit, so a power cut does not lose
// a committed batch; a write transaction begins IMMEDIATE, taking the write
// lock at once, and waits up to the busy timeout for another process's.
const (
	sqliteWriter = "?_busy_timeout=15000&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate"
	sqliteReader = "?_busy_timeout=15000&_query_only=1"
	// sqliteTime is how SQLite stores times: UTC, fixed width, so text order is time order.
	sqliteTime = "2006-01-02T15:04:05.000000Z"
)

// sqliteSchema is the schema_version table in SQLite.
var sqliteSchema = schemaTable{
	create: `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`,
	exists: `SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`,
}

func sqliteDialect() *dialect {
	d := &dialect{
		maxParams:  32766,
		ts:         func(t time.Time) any { return t.UTC().Format(sqliteTime) },
		mergeRange: mergeRangeSQL,
	}
	d.readings = func(ctx context.Context, q querier, rows []readingRow) error {
		return insertRows(ctx, q, d, "readings", readingCols, len(rows), func(dst []any, i int) []any { return rows[i].values(d, dst) })
	}
	return d
}

// sqliteStore is the Store on a SQLite file: one writer connection, whose
// transactions serialise the commits of this process (other processes wait
// on SQLite's lock), and a pool of read-only connections.
type sqliteStore struct {
	sqlStore
	w, r  *sql.DB
	stmts *stmtCache
}

func openSQLite(ctx context.Context, path string) (Store, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("sqlite database %s does not exist: run `edgegw ingest migrate`: %w", path, ErrSchemaVersion)
	}
	w, err := sql.Open("sqlite", path+sqliteWriter)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", path+sqliteReader)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	stmts := &stmtCache{db: w, m: map[string]*sql.Stmt{}}
	s := &sqliteStore{
		sqlStore: sqlStore{
			d:     sqliteDialect(),
			where: "sqlite database " + path,
			read:  func() querier { return sqliteQ{db: r} },
			inTx: func(ctx context.Context, fn func(q querier) error) error {
				return sqliteTx(ctx, w, stmts, fn)
			},
		},
		w: w, r: r, stmts: stmts,
	}
	s.commit = s.commitInTx
	err = checkSchema(ctx, s.read(), SQLite, sqliteSchema.exists)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite database %s: %w", path, err)
	}
	return s, nil
}

func migrateSQLite(ctx context.Context, path string) (from, to int, err error) {
	db, err := sql.Open("sqlite", path+sqliteWriter)
	if err != nil {
		return 0, 0, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	m := &migrator{SQLite, sqliteDialect(), sqliteSchema, func(ctx context.Context, fn func(q querier) error) error {
		return sqliteTx(ctx, db, nil, fn)
	}}
	// Two migrations starting at once on a new file can meet SQLITE_BUSY
	// before the busy timeout applies (setting WAL mode takes the file
	// exclusively): the later one waits and tries again.
	for attempt := 1; ; attempt++ {
		from, to, err = m.apply(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqliteBusy || attempt == busyAttempts {
			break
		}
		select {
		case <-ctx.Done():
			return from, to, fmt.Errorf("migrate sqlite database %s: %w", path, ctx.Err())
		case <-time.After(time.Duration(attempt) * 20 * time.Millisecond):
		}
	}
	if err != nil {
		return from, to, fmt.Errorf("migrate sqlite database %s: %w", path, err)
	}
	return from, to, nil
}

// sqliteBusy is SQLITE_BUSY, the primary result code of a locked database;
// busyAttempts bounds the tries of a migration that meets it.
const (
	sqliteBusy   = 5
	busyAttempts = 20
)

// sqliteTx runs fn in a transaction of db, committing when it returns nil.
// Its statements use and fill stmts when it is not nil.
func sqliteTx(ctx context.Context, db *sql.DB, stmts *stmtCache, fn func(q querier) error) error {
	if stmts != nil {
		defer stmts.prepareMissed(ctx)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(sqliteQ{tx: tx, stmts: stmts}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Close implements Store.
func (s *sqliteStore) Close() error {
	s.stmts.close()
	return errors.Join(s.w.Close(), s.r.Close())
}

// stmtCache keeps the writer's prepared statements, so that SQLite compiles
// each statement text once. The texts are few: fixed statements and
// multi-row ones in power-of-two sizes. A statement missing from the cache
// runs unprepared and is prepared after its transaction, when the writer's
// only connection is free.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt // by $1-style text
	missed []string
}

// lookup returns the prepared statement of q, or nil after noting q.
func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.m[q]
	if st == nil && !slices.Contains(c.missed, q) {
		c.missed = append(c.missed, q)
	}
	return st
}

// prepareMissed prepares the statements lookup did not find. A failure only
// leaves a statement unprepared: running it reports the error.
func (c *stmtCache) prepareMissed(ctx context.Context) {
	c.mu.Lock()
	missed := c.missed
	c.missed = nil
	c.mu.Unlock()
	for _, q := range missed {
		st, err := c.db.PrepareContext(ctx, rebind(q))
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.m[q] == nil {
			c.m[q], st = st, nil
		}
		c.mu.Unlock()
		if st != nil {
			st.Close()
		}
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	clear(c.m)
}

// rebind turns $1-style parameters into SQLite's anonymous ?.
func rebind(q string) string { return dollarParam.ReplaceAllLiteralString(q, "?") }

var dollarParam = regexp.MustCompile(`\$[0-9]+`)

// sqliteQ is a querier on a transaction, using stmts when it is set, or,
// without one, on a database.
type sqliteQ struct {
	db    *sql.DB
	tx    *sql.Tx
	stmts *stmtCache
}

// stmt returns q's prepared form in the transaction, or nil.
func (q sqliteQ) stmt(ctx context.Context, query string) *sql.Stmt {
	if q.stmts == nil {
		return nil
	}
	if st := q.stmts.lookup(query); st != nil {
		return q.tx.StmtContext(ctx, st)
	}
	return nil
}

// runner is what runs a statement: a prepared one, a transaction or the
// database.
type runner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// prepared runs its statement, whatever query it is given.
type prepared struct{ st *sql.Stmt }

func (p prepared) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return p.st.ExecContext(ctx, args...)
}

func (p prepared) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return p.st.QueryContext(ctx, args...)
}

// runner returns what runs query in q, and the query in SQLite's form.
func (q sqliteQ) runner(ctx context.Context, query string) (runner, string) {
	switch st := q.stmt(ctx, query); {
	case st != nil:
		return prepared{st}, query
	case q.tx != nil:
		return q.tx, rebind(query)
	}
	return q.db, rebind(query)
}

func (q sqliteQ) exec(ctx context.Context, query string, args ...any) error {
	r, query := q.runner(ctx, query)
	_, err := r.ExecContext(ctx, query, args...)
	return err
}

func (q sqliteQ) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, query := q.runner(ctx, query)
	rs, err := r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rs}, nil
}

// sqlRows adapts *sql.Rows to rows.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }
