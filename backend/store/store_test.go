package store_test

import (
	"path/filepath"
	"testing"

	"github.com/edgegw/edgegw/backend/store/pgtest"
	"github.com/edgegw/edgegw/backend/store/storetest"
)

func sqliteDSN(t testing.TB) string { return "sqlite:" + filepath.Join(t.TempDir(), "ingest.db") }

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) string { return sqliteDSN(t) })
}

func TestIntegrationPostgres(t *testing.T) {
	c := pgtest.Start(t)
	storetest.Run(t, func(t *testing.T) string { return c.NewDatabase(t) })
}
