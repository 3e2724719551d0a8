package backend_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/backend/backendtest"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/internal/must"
)

func TestReceiverAccounting(t *testing.T) {
	g := backendtest.NewGateway(t, "gw-001")
	r := backend.NewReceiver(envelope.NewTrust(g.ID.Public()), g.Key)
	topic := "city/gw-001/data/telemetry"
	b1 := g.Batch(1, 3)
	for _, step := range []struct {
		name    string
		topic   string
		wire    []byte
		records int
		dup     bool
	}{
		{"first", topic, b1, 3, false},
		{"redelivered", topic, b1, 0, true},
		{"gap record for 3..4", "city/gw-001/data/gap", g.Gap(5, 3, 4, 20), 0, false},
		{"seq 6", topic, g.Batch(6, 2), 2, false},
	} {
		res, err := r.Handle(step.topic, step.wire)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if len(res.Readings) != step.records || res.Duplicate != step.dup {
			t.Errorf("%s: %d records, duplicate %v; want %d, %v", step.name, len(res.Readings), res.Duplicate, step.records, step.dup)
		}
	}
	sum := r.Summary()
	if sum.Envelopes != 4 || sum.Readings != 5 || sum.Duplicates != 1 || sum.GapRecords != 1 || sum.Dropped != 20 {
		t.Errorf("summary = %+v", sum)
	}
	// Seq 2 was neither received nor covered by the gap record.
	if got := r.Missing("gw-001"); len(got) != 1 || got[0] != [2]uint64{2, 2} {
		t.Errorf("missing = %v, want [2]", got)
	}
	if !strings.Contains(sum.String(), "gaps=1") {
		t.Errorf("summary line %q does not report one gap", sum)
	}
}

func TestReceiverDetectsReusedSequence(t *testing.T) {
	g := backendtest.NewGateway(t, "gw-001")
	r := backend.NewReceiver(envelope.NewTrust(g.ID.Public()), g.Key)
	for range 2 { // the same number, two different batches
		if _, err := r.Handle("city/gw-001/data/telemetry", g.Batch(7, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if sum := r.Summary(); sum.Reused != 1 {
		t.Errorf("reused = %d, want 1", sum.Reused)
	}
}

func TestReceiverRejects(t *testing.T) {
	g := backendtest.NewGateway(t, "gw-001")
	other := backendtest.NewGateway(t, "gw-002")
	r := backend.NewReceiver(envelope.NewTrust(g.ID.Public()), g.Key)
	tests := []struct {
		name, topic string
		wire        []byte
		reason      string
	}{
		{"untrusted gateway", "city/gw-002/data/telemetry", other.Batch(1, 1), "untrusted-gateway"},
		{"topic of another gateway", "city/gw-009/data/telemetry", g.Batch(1, 1), "topic-mismatch"},
		{"garbage", "city/gw-001/data/telemetry", []byte("not an envelope"), "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Handle(tt.topic, tt.wire)
			if err == nil || backend.Reason(err) != tt.reason {
				t.Fatalf("Handle = %v, reason %q; want reason %q", err, backend.Reason(err), tt.reason)
			}
			if len(res.Readings) > 0 {
				t.Error("a rejected envelope yielded records")
			}
		})
	}
	if sum := r.Summary(); sum.Envelopes != 0 || sum.Rejected["topic-mismatch"] != 1 {
		t.Errorf("summary = %+v", sum)
	}
}

func TestOpenFilesPrintsJSONLines(t *testing.T) {
	g := backendtest.NewGateway(t, "gw-001")
	dir := t.TempDir()
	f1 := filepath.Join(dir, "1.cbor")
	must.NoError(t, os.WriteFile(f1, g.Batch(1, 2), 0o600))
	r := backend.NewReceiver(envelope.NewTrust(g.ID.Public()), g.Key)
	var out, errOut bytes.Buffer
	sum, err := backend.Open(context.Background(), r, backend.Options{Files: []string{f1}}, &out, &errOut)
	must.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || sum.Readings != 2 {
		t.Fatalf("output %q, summary %+v", out.String(), sum)
	}
	var rec map[string]any
	must.NoError(t, json.Unmarshal([]byte(lines[1]), &rec))
	want := map[string]any{"kind": "reading", "gateway": "gw-001", "seq": 1.0, "device": "aq-1", "channel": "t", "value": 1.5, "unit": "Cel",
		"time": "2026-11-25T10:00:01.000Z", "class": "telemetry", "flags": []any{"ok"}}
	for k, v := range want {
		if got, _ := json.Marshal(rec[k]); string(got) != mustJSON(t, v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(t, v))
		}
	}
	if len(rec) != len(want) {
		t.Errorf("record has fields %v, want exactly %v", rec, want)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	must.NoError(t, err)
	return string(b)
}

func TestOpenFilesFailsWhenItRejects(t *testing.T) {
	g := backendtest.NewGateway(t, "gw-001")
	dir := t.TempDir()
	good, bad, huge := filepath.Join(dir, "1.cbor"), filepath.Join(dir, "2.cbor"), filepath.Join(dir, "3.cbor")
	must.NoError(t, os.WriteFile(good, g.Batch(1, 1), 0o600))
	must.NoError(t, os.WriteFile(bad, []byte("not an envelope"), 0o600))
	r := backend.NewReceiver(envelope.NewTrust(g.ID.Public()), g.Key)
	var out, errOut bytes.Buffer
	sum, err := backend.Open(context.Background(), r, backend.Options{Files: []string{good, bad}}, &out, &errOut)
	if !errors.Is(err, backend.ErrRejected) || sum.Readings != 1 {
		t.Fatalf("error %v, summary %+v; want ErrRejected after opening the good file", err, sum)
	}
	// The rejection is a JSON line of kind reject after the reading's.
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var rej backend.RejectLine
	if len(lines) != 2 || json.Unmarshal([]byte(lines[1]), &rej) != nil ||
		rej != (backend.RejectLine{Kind: backend.KindReject, Source: bad, Reason: "malformed", Error: rej.Error}) || rej.Error == "" {
		t.Errorf("open printed %q; want a reading line, then a reject line for %s with reason malformed", out.String(), bad)
	}
	if !strings.Contains(errOut.String(), "rejected "+bad) {
		t.Errorf("stderr %q does not name the rejected file", errOut.String())
	}

	// A file larger than any envelope is refused by its size, unread.
	f, err := os.Create(huge)
	must.NoError(t, err)
	must.NoError(t, f.Truncate(envelope.MaxSize+1))
	must.NoError(t, f.Close())
	_, err = backend.Open(context.Background(), backend.NewReceiver(envelope.NewTrust(g.ID.Public()), g.Key),
		backend.Options{Files: []string{huge}}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "more than an envelope's") {
		t.Fatalf("huge file: %v", err)
	}
}
