//go:build !nodemo && !nobackend

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/internal/must"
)

// TestIngestCommands: migrate, status and gaps on an SQLite database, as an
// operator runs them with the service's configuration file.
func TestIngestCommands(t *testing.T) {
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "ingest.db")
	cfg := filepath.Join(dir, "ingest.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`broker: ssl://127.0.0.1:8883
ca: ca.pem
cert: ingest.pem
key: ingest.key
client_id: ingest-1
identity: %s
trust: [gateways.pub]
recipient_keys: [telemetry.key]
database: %s
`, filepath.Join(dir, "identity"), dsn)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := execute(t, "ingest", "status", "--config", cfg); code != 1 || !strings.Contains(out, "edgegw ingest migrate") {
		t.Errorf("status before migrate: exit %d, %q; want the migrate command named", code, out)
	}
	if out, code := execute(t, "ingest", "migrate", "--config", cfg); code != 0 || !strings.Contains(out, "schema migrated from version 0 to") {
		t.Errorf("migrate: exit %d, %q", code, out)
	}
	if out, code := execute(t, "ingest", "migrate", "--config", cfg); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("migrate again: exit %d, %q", code, out)
	}
	if out, code := execute(t, "ingest", "gaps", "--config", cfg); code != 0 || out != "no sequence numbers missing\n" {
		t.Errorf("gaps of an empty database: exit %d, %q", code, out)
	}

	// Batches 1 and 4 of gw-001, and a gap record (5) for 3: seq 2 is missing.
	db, err := store.Open(context.Background(), dsn)
	must.NoError(t, err)
	v := 21.5
	now := time.Now()
	batch := func(seq uint64) store.Batch {
		return store.Batch{Gateway: "gw-001", Seq: seq, Class: "telemetry", KeyID: []byte{1}, Created: now, Received: now, Size: 100,
			Readings: []store.Reading{{Device: "aq-1", Channel: "t", Unit: "Cel", Time: now, Value: &v}}}
	}
	gap := store.Batch{Gateway: "gw-001", Seq: 5, Class: store.ClassGap, Created: now, Received: now, Size: 80,
		Gap: &store.Gap{FromSeq: 3, ToSeq: 3, Batches: 1, Readings: 12, Reason: "max-bytes"}}
	if _, err := db.Commit(context.Background(), []store.Batch{batch(1), batch(4), gap}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	out, code := execute(t, "ingest", "status", "--config", cfg, "--json")
	var st map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st["readings"] != 2.0 || st["gap_records"] != 1.0 || st["dropped_readings"] != 12.0 {
		t.Errorf("status --json: exit %d, %q", code, out)
	}
	out, code = execute(t, "ingest", "gaps", "--config", cfg)
	for _, want := range []string{"gw-001   2    1      not received yet", "gw-001   3    1      dropped by the gateway: max-bytes (gap record seq 5, 12 readings)"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("gaps: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	out, code = execute(t, "ingest", "gaps", "--config", cfg, "--json", "--gateway", "gw-001")
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, `"cause":"gap-record","reason":"max-bytes","record_seq":5,"readings":12`) {
		t.Errorf("gaps --json: exit %d, %q", code, out)
	}
}
