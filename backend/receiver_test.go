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
	"time"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
)

// gw is a test gateway: its identity and the recipient it seals to.
type gw struct {
	t   *testing.T
	id  *keys.Identity
	pub *keys.RecipientPublic
	rk  *keys.RecipientPrivate
}

func newGateway(t *testing.T, name string) *gw {
	t.Helper()
	dir := t.TempDir()
	must(t, keys.InitIdentity(dir, name, false))
	must(t, keys.GenerateRecipient(dir, keys.SuiteX25519, false))
	id, err := keys.LoadIdentity(dir)
	must(t, err)
	pub, err := keys.LoadRecipientPublic(filepath.Join(dir, "recipient.pub"))
	must(t, err)
	rk, err := keys.LoadRecipientPrivate(filepath.Join(dir, "recipient.key"))
	must(t, err)
	return &gw{t, id, pub, rk}
}

var at = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// batch seals one poll of n readings into a signed envelope with sequence seq.
func (g *gw) batch(seq uint64, n int) []byte {
	g.t.Helper()
	b, err := envelope.NewBatch(g.pub, g.id.ID, "telemetry", 1, at)
	must(g.t, err)
	h, err := b.Header(seq)
	must(g.t, err)
	var rs []reading.Reading
	for i := range n {
		rs = append(rs, reading.Reading{Device: "aq-1", Channel: "t", Value: float64(i) + 0.5, Unit: reading.Celsius, Time: at.Add(time.Duration(i) * time.Second)})
	}
	chunk, err := b.Seal(rs)
	must(g.t, err)
	tr, err := envelope.Sign(g.id, h, [][]byte{chunk})
	must(g.t, err)
	return envelope.Marshal(h, [][]byte{chunk}, tr)
}

// gap builds a signed gap record with sequence seq reporting from..to.
func (g *gw) gap(seq, from, to, readings uint64) []byte {
	g.t.Helper()
	h, err := envelope.GapHeader(g.id.ID, seq, 1, at)
	must(g.t, err)
	chunks, err := envelope.GapChunks(envelope.Gap{FromSeq: from, ToSeq: to, Batches: to - from + 1, Readings: readings, Reason: "max-bytes"})
	must(g.t, err)
	tr, err := envelope.Sign(g.id, h, chunks)
	must(g.t, err)
	return envelope.Marshal(h, chunks, tr)
}

func TestReceiverAccounting(t *testing.T) {
	g := newGateway(t, "gw-001")
	r := backend.NewReceiver(envelope.NewTrust(g.id.Public()), g.rk)
	topic := "city/gw-001/data/telemetry"
	b1 := g.batch(1, 3)
	for _, step := range []struct {
		name    string
		topic   string
		wire    []byte
		records int
		dup     bool
	}{
		{"first", topic, b1, 3, false},
		{"redelivered", topic, b1, 0, true},
		{"gap record for 3..4", "city/gw-001/data/gap", g.gap(5, 3, 4, 20), 0, false},
		{"seq 6", topic, g.batch(6, 2), 2, false},
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
	g := newGateway(t, "gw-001")
	r := backend.NewReceiver(envelope.NewTrust(g.id.Public()), g.rk)
	for range 2 { // the same number, two different batches
		if _, err := r.Handle("city/gw-001/data/telemetry", g.batch(7, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if sum := r.Summary(); sum.Reused != 1 {
		t.Errorf("reused = %d, want 1", sum.Reused)
	}
}

func TestReceiverRejects(t *testing.T) {
	g := newGateway(t, "gw-001")
	other := newGateway(t, "gw-002")
	r := backend.NewReceiver(envelope.NewTrust(g.id.Public()), g.rk)
	tests := []struct {
		name, topic string
		wire        []byte
		reason      string
	}{
		{"untrusted gateway", "city/gw-002/data/telemetry", other.batch(1, 1), "untrusted-gateway"},
		{"topic of another gateway", "city/gw-009/data/telemetry", g.batch(1, 1), "topic-mismatch"},
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
	g := newGateway(t, "gw-001")
	dir := t.TempDir()
	f1 := filepath.Join(dir, "1.cbor")
	must(t, os.WriteFile(f1, g.batch(1, 2), 0o600))
	r := backend.NewReceiver(envelope.NewTrust(g.id.Public()), g.rk)
	var out, errOut bytes.Buffer
	sum, err := backend.Open(context.Background(), r, backend.Options{Files: []string{f1}}, &out, &errOut)
	must(t, err)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || sum.Readings != 2 {
		t.Fatalf("output %q, summary %+v", out.String(), sum)
	}
	var rec map[string]any
	must(t, json.Unmarshal([]byte(lines[1]), &rec))
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
	must(t, err)
	return string(b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenFilesFailsWhenItRejects(t *testing.T) {
	g := newGateway(t, "gw-001")
	dir := t.TempDir()
	good, bad, huge := filepath.Join(dir, "1.cbor"), filepath.Join(dir, "2.cbor"), filepath.Join(dir, "3.cbor")
	must(t, os.WriteFile(good, g.batch(1, 1), 0o600))
	must(t, os.WriteFile(bad, []byte("not an envelope"), 0o600))
	r := backend.NewReceiver(envelope.NewTrust(g.id.Public()), g.rk)
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
	must(t, err)
	must(t, f.Truncate(envelope.MaxSize+1))
	must(t, f.Close())
	_, err = backend.Open(context.Background(), backend.NewReceiver(envelope.NewTrust(g.id.Public()), g.rk),
		backend.Options{Files: []string{huge}}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "more than an envelope's") {
		t.Fatalf("huge file: %v", err)
	}
}
