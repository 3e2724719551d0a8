//go:build !nodemo && !nobackend

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/backend/store/storetest"
	"github.com/edgegw/edgegw/internal/must"
)

// fleetDB writes an ingest configuration on a SQLite database holding three
// gateways: north-1 committing with fresh health (OK), north-2 with fresh
// health and nothing committed (SILENT), south-1 whose last will arrived
// (OFFLINE). It returns the configuration file.
func fleetDB(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "ingest.db")
	ctx := context.Background()
	st := storetest.Open(t, dsn)
	now := time.Now()
	var docs []store.Doc
	for _, gw := range []string{"north-1", "south-1"} {
		b := storetest.DataBatch(gw, 1, 4, "a")
		b.Received = now
		if _, err := st.Commit(ctx, []store.Batch{b}); err != nil {
			t.Fatal(err)
		}
	}
	for _, gw := range []string{"north-1", "north-2"} {
		docs = append(docs, store.Doc{Gateway: gw, Kind: store.DocHealth, Received: now,
			Body: fmt.Appendf(nil, `{"gateway":%q,"version":"1.4.0","config_version":3,"devices":{"sps30":{"polls":5,"errors":1,"last_ok":%q}}}`, gw, now.Format(time.RFC3339))})
	}
	docs = append(docs, store.Doc{Gateway: "south-1", Kind: store.DocHealth, Received: now, Body: []byte(`{"state":"offline"}`)})
	must.NoError(t, st.RecordDocs(ctx, docs, 10))
	cfg := filepath.Join(dir, "ingest.yaml")
	err := os.WriteFile(cfg, []byte(`broker: ssl://broker.example:8883
ca: ca.pem
cert: ingest.pem
key: ingest.key
client_id: ingest-1
identity: id
trust: [gateways.pub]
recipient_keys: [telemetry.key]
database: `+dsn+`
`), 0o600)
	must.NoError(t, err)
	return cfg
}

func TestFleetStatusCommand(t *testing.T) {
	cfg := fleetDB(t)
	out, code := execute(t, "fleet", "status", "--config", cfg)
	if code != 0 {
		t.Fatalf("fleet status: exit %d\n%s", code, out)
	}
	for _, want := range []string{`(?m)^3 gateways at `, `(?m)^OFFLINE\s+1$`, `(?m)^SILENT\s+1$`, `(?m)^OK\s+1$`, `(?m)^DEGRADED\s+0$`,
		`(?m)^version 1\.4\.0\s+2$`, `(?m)^version unknown\s+1$`, `(?s)south-1\s+south\s+OFFLINE.*north-2\s+north\s+SILENT\s.*check the broker ACL.*north-1\s+north\s+OK`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("fleet status output does not match %s:\n%s", want, out)
		}
	}
	out, code = execute(t, "fleet", "status", "--config", cfg, "--state", "silent", "--json")
	var sum fleet.Summary
	if code != 0 || json.Unmarshal([]byte(out), &sum) != nil || len(sum.Boxes) != 1 || sum.Boxes[0].Gateway != "north-2" || sum.Counts[fleet.Silent] != 1 || sum.Counts[fleet.OK] != 0 {
		t.Errorf("fleet status --state silent --json: exit %d, %+v\n%s", code, sum, out)
	}
	out, code = execute(t, "fleet", "status", "--config", cfg, "--group", "north", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &sum) != nil || len(sum.Boxes) != 2 {
		t.Errorf("fleet status --group north: exit %d, %d boxes\n%s", code, len(sum.Boxes), out)
	}
	out, code = execute(t, "fleet", "status", "--config", cfg, "--state", "sleepy")
	if code == 0 || !strings.Contains(out, `state "sleepy" is not one of OK, DEGRADED`) {
		t.Errorf("fleet status --state sleepy: exit %d\n%s", code, out)
	}
}

func TestFleetShowCommand(t *testing.T) {
	cfg := fleetDB(t)
	out, code := execute(t, "fleet", "show", "north-1", "--config", cfg, "--json")
	var d fleet.Detail
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil {
		t.Fatalf("fleet show --json: exit %d\n%s", code, out)
	}
	if d.Box.State != fleet.OK || len(d.LastReadings) != 4 || d.Devices["sps30"].Polls != 5 || len(d.Versions) != 1 || d.Versions[0].Version != "1.4.0" {
		t.Errorf("fleet show north-1 = %+v", d)
	}
	out, code = execute(t, "fleet", "show", "north-1", "--config", cfg)
	if code != 0 || !regexp.MustCompile(`(?m)^sps30\s+5\s+1\s`).MatchString(out) || !strings.Contains(out, "north-1 (group north): OK") {
		t.Errorf("fleet show text: exit %d\n%s", code, out)
	}
	out, code = execute(t, "fleet", "show", "west-9", "--config", cfg)
	if code == 0 || !strings.Contains(out, "fleet show west-9: unknown gateway") {
		t.Errorf("fleet show of an unknown gateway: exit %d\n%s", code, out)
	}
}
