package pgtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestIntegrationCluster(t *testing.T) {
	ctx := context.Background()
	c := Start(t)
	socket := filepath.Join(c.Dir, ".s.PGSQL.5432")
	if _, err := os.Stat(socket); err != nil {
		t.Fatalf("no socket in the cluster's directory: %v", err)
	}
	conn, err := pgx.Connect(ctx, c.DSN)
	if err != nil {
		t.Fatalf("connect to %s: %v", c.DSN, err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	c.Stop()
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Errorf("socket still there after Stop: %v", err)
	}
	if conn, err := pgx.Connect(ctx, c.DSN); err == nil {
		conn.Close(ctx)
		t.Fatal("connected to a stopped cluster")
	}
	c.Start()
	conn, err = pgx.Connect(ctx, c.DSN)
	if err != nil {
		t.Fatalf("connect after Start: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT n FROM kept").Scan(&n); err != nil || n != 42 {
		t.Errorf("after a restart: n = %d, %v; want 42", n, err)
	}
	other := c.NewDatabase(t)
	if other == c.DSN {
		t.Errorf("NewDatabase returned the first database again: %s", other)
	}
	cpu, err := c.CPUTime()
	if err != nil || cpu <= 0 {
		t.Errorf("CPUTime = %v, %v; want the server's processor time", cpu, err)
	}
}
