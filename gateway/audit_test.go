package gateway

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"

	bolt "go.etcd.io/bbolt"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/gateway/control"
)

// openTestAuditor opens the trail of state directory dir on an in-memory
// buffer, signing as a new gateway identity.
func openTestAuditor(t *testing.T, dir string) (*auditor, *buffer.Memory) {
	t.Helper()
	store := buffer.NewMemory(buffer.Options{})
	_, id := newTestBatcher(t, store, time.Now)
	a, err := openAuditor(dir, store, id, 1, func() time.Time { return t0 })
	must.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	return a, store
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func event(i int) control.Event {
	return control.Event{Time: t0.Add(time.Duration(i) * time.Second), UID: 1000, Role: "technician", Action: "device.read", Args: map[string]string{"device": fmt.Sprintf("aq-%d", i)}, Result: "ok"}
}

func actions(es []control.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Args["device"])
	}
	return out
}

// TestAuditTrail: each event is a line of the trail and a signed record in
// the buffer; Trail returns the newest, oldest first, also after a
// restart.
func TestAuditTrail(t *testing.T) {
	dir := t.TempDir()
	a, store := openTestAuditor(t, dir)
	for i := range 5 {
		must.NoError(t, a.Record(event(i)))
	}
	got, err := a.Trail(3)
	must.NoError(t, err)
	if s := strings.Join(actions(got), " "); s != "aq-2 aq-3 aq-4" {
		t.Errorf("Trail(3) = %s, want aq-2 aq-3 aq-4", s)
	}
	if st := store.Stats(); st.Batches != 5 {
		t.Errorf("buffer holds %d batches, want 5 signed audit records", st.Batches)
	}
	data, err := os.ReadFile(filepath.Join(dir, AuditFile))
	must.NoError(t, err)
	if n := strings.Count(string(data), "\n"); n != 5 {
		t.Errorf("trail has %d lines, want 5", n)
	}
	if fi, _ := os.Stat(filepath.Join(dir, AuditFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("trail mode %v, want 0600", fi.Mode().Perm())
	}
	a.Close()
	b, _ := openTestAuditor(t, dir)
	all, err := b.Trail(0)
	if err != nil || len(all) != 5 || all[0].Args["device"] != "aq-0" || !all[0].Time.Equal(t0) {
		t.Errorf("after a restart Trail(0) = %v, %v; want the 5 events", actions(all), err)
	}
}

// TestAuditTrailCutLine: a power loss that cut the last line loses that
// event only (its call did not proceed), and the next event starts a line
// of its own.
func TestAuditTrailCutLine(t *testing.T) {
	dir := t.TempDir()
	a, _ := openTestAuditor(t, dir)
	for i := range 2 {
		must.NoError(t, a.Record(event(i)))
	}
	a.Close()
	f, err := os.OpenFile(filepath.Join(dir, AuditFile), os.O_WRONLY|os.O_APPEND, 0)
	must.NoError(t, err)
	f.WriteString(`{"time":"2026-12-01T10:00:09Z","action":"dev`)
	f.Close()
	b, _ := openTestAuditor(t, dir)
	must.NoError(t, b.Record(event(3)))
	got, err := b.Trail(0)
	if s := strings.Join(actions(got), " "); err != nil || s != "aq-0 aq-1 aq-3" {
		t.Errorf("Trail = %s, %v; want aq-0 aq-1 aq-3", s, err)
	}
}

// TestAuditTrailRotates: past AuditMaxBytes the trail starts a new file,
// keeping the one before; Trail reads across both.
func TestAuditTrailRotates(t *testing.T) {
	dir := t.TempDir()
	a, _ := openTestAuditor(t, dir)
	line, _ := json.Marshal(event(0))
	n := 2*AuditMaxBytes/(len(line)+1) + 10 // more than two files' worth
	for i := range n {
		must.NoError(t, a.Record(event(i)))
	}
	for _, name := range []string{AuditFile, AuditFile + ".1"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Size() > AuditMaxBytes+int64(len(line)+1) {
			t.Errorf("%s: %v, %v; want at most %d bytes", name, fi.Size(), err, AuditMaxBytes)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, AuditFile+".2")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a third file: %v", err)
	}
	got, err := a.Trail(control.MaxAuditLimit)
	if err != nil || len(got) != control.MaxAuditLimit {
		t.Fatalf("Trail = %d events, %v; want %d", len(got), err, control.MaxAuditLimit)
	}
	if first, last := got[0].Args["device"], got[len(got)-1].Args["device"]; first != fmt.Sprintf("aq-%d", n-control.MaxAuditLimit) || last != fmt.Sprintf("aq-%d", n-1) {
		t.Errorf("Trail from %s to %s, want the last %d of %d", first, last, control.MaxAuditLimit, n)
	}
	all, _ := a.Trail(0)
	if len(all) <= control.MaxAuditLimit || all[len(all)-1].Args["device"] != fmt.Sprintf("aq-%d", n-1) {
		t.Errorf("Trail(0) = %d events ending %v", len(all), all[len(all)-1].Args)
	}
}

// TestAuditTrailImportsLegacy: the bbolt trail of an earlier version moves
// into the new one, in order, and is removed.
func TestAuditTrailImportsLegacy(t *testing.T) {
	dir := t.TempDir()
	legacy := filepath.Join(dir, auditLegacyFile)
	db, err := bolt.Open(legacy, 0o600, nil)
	must.NoError(t, err)
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(auditLegacyBucket)
		if err != nil {
			return err
		}
		for i := range 3 {
			v, _ := json.Marshal(event(i))
			if err := b.Put(binary.BigEndian.AppendUint64(nil, uint64(i+1)), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err = errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	a, _ := openTestAuditor(t, dir)
	must.NoError(t, a.Record(event(3)))
	got, err := a.Trail(0)
	if s := strings.Join(actions(got), " "); err != nil || s != "aq-0 aq-1 aq-2 aq-3" {
		t.Errorf("Trail = %s, %v; want the 3 imported events, then the new one", s, err)
	}
	if _, err := os.Stat(legacy); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the old trail is still there: %v", err)
	}
}
