package store

import (
	"context"
	"embed"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds one folder per engine of files NNNN_name.sql, numbered
// from 1 without holes; each engine has the same numbers.
//
//go:embed migrations
var migrationFiles embed.FS

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the engine's migrations in order of version.
func migrations(eng Engine) ([]migration, error) {
	dir := path.Join("migrations", string(eng))
	entries, err := migrationFiles.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s migrations: %w", eng, err)
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("%s migration %s: name is not NNNN_name.sql", eng, e.Name())
		}
		if v != len(out)+1 {
			return nil, fmt.Errorf("%s migration %s: version %d, want %d", eng, e.Name(), v, len(out)+1)
		}
		b, err := migrationFiles.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read %s migration %s: %w", eng, e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return out, nil
}

// checkVersion returns nil when the database schema is at version want, the
// number of migrations this edgegw carries.
func checkVersion(have, want int) error {
	switch {
	case have < want:
		return fmt.Errorf("database schema is at version %d, this edgegw needs %d: run `edgegw ingest migrate`: %w", have, want, ErrSchemaVersion)
	case have > want:
		return fmt.Errorf("database schema is at version %d, newer than this edgegw's %d: upgrade edgegw: %w", have, want, ErrSchemaVersion)
	}
	return nil
}

// schemaVersion returns the highest applied migration, 0 when the
// schema_version table does not exist; exists is the engine's query telling
// whether it does.
func schemaVersion(ctx context.Context, q querier, exists string) (int, error) {
	var ok bool
	if err := queryRow(ctx, q, exists, nil, &ok); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if !ok {
		return 0, nil
	}
	var v int64
	if err := queryRow(ctx, q, `SELECT COALESCE(MAX(version), 0) FROM schema_version`, nil, &v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v), nil
}

// checkSchema returns nil when the database schema is at the version of the
// engine's newest migration.
func checkSchema(ctx context.Context, q querier, eng Engine, exists string) error {
	ms, err := migrations(eng)
	if err != nil {
		return err
	}
	v, err := schemaVersion(ctx, q, exists)
	if err != nil {
		return err
	}
	return checkVersion(v, len(ms))
}

// queryRow scans the first row of a query into dest.
func queryRow(ctx context.Context, q querier, sql string, args []any, dest ...any) error {
	rs, err := q.query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rs.Close()
	if !rs.Next() {
		if err := rs.Err(); err != nil {
			return err
		}
		return fmt.Errorf("no row")
	}
	if err := rs.Scan(dest...); err != nil {
		return err
	}
	rs.Close()
	return rs.Err()
}

// schemaTable is an engine's SQL for the schema_version table.
type schemaTable struct {
	create string // creates it if missing
	exists string // query: does it exist
}

// migrator is what applyMigrations needs of an engine.
type migrator struct {
	eng    Engine
	d      *dialect
	schema schemaTable
	// inTx runs fn in a transaction that excludes other migrators.
	inTx func(ctx context.Context, fn func(q querier) error) error
}

// apply applies the migrations above the database's version, each with its
// schema_version row in one transaction that first reads the version again,
// so that a concurrent migrator's work is never repeated.
func (m *migrator) apply(ctx context.Context) (from, to int, err error) {
	ms, err := migrations(m.eng)
	if err != nil {
		return 0, 0, err
	}
	from = -1
	for {
		done := false
		err := m.inTx(ctx, func(q querier) error {
			if err := q.exec(ctx, m.schema.create); err != nil {
				return fmt.Errorf("create schema_version: %w", err)
			}
			v, err := schemaVersion(ctx, q, m.schema.exists)
			if err != nil {
				return err
			}
			if from < 0 {
				from = v
			}
			to = v
			if v >= len(ms) {
				done = true
				if v > len(ms) {
					return checkVersion(v, len(ms))
				}
				return nil
			}
			next := ms[v]
			if err := q.exec(ctx, next.sql); err != nil {
				return fmt.Errorf("apply %s migration %s: %w", m.eng, next.name, err)
			}
			if err := q.exec(ctx, `INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)`, next.version, m.d.ts(time.Now())); err != nil {
				return fmt.Errorf("record %s migration %s: %w", m.eng, next.name, err)
			}
			to = next.version
			return nil
		})
		if err != nil || done {
			return from, to, err
		}
	}
}
