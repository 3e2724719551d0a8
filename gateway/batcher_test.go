package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/gateway/gatewaytest"
	"github.com/edgegw/edgegw/internal/must"
)

// newTestBatcher returns a batcher on store for class telemetry, and the
// gateway identity it signs with.
func newTestBatcher(t *testing.T, store buffer.Store, now func() time.Time) (*batcher, *keys.Identity) {
	t.Helper()
	dir := t.TempDir()
	must.NoError(t, keys.InitIdentity(dir, "gw-001", false))
	must.NoError(t, keys.GenerateRecipient(dir, keys.SuiteX25519, false))
	id, err := keys.LoadIdentity(dir)
	must.NoError(t, err)
	rcpt, err := keys.LoadRecipientPublic(filepath.Join(dir, "recipient.pub"))
	must.NoError(t, err)
	return &batcher{gatewayID: "gw-001", configVersion: 1, identity: id,
		recipients: map[string]*keys.RecipientPublic{"telemetry": rcpt},
		store:      store, maxReadings: 100, maxDelay: time.Second, now: now,
		log: slog.New(slog.DiscardHandler), open: map[string]*openBatch{}}, id
}

// TestBatcherClosesAfterClockWentBack: a batch begun just before the wall
// clock went back an hour still closes at once, not an hour later.
func TestBatcherClosesAfterClockWentBack(t *testing.T) {
	clock := &gatewaytest.WallClock{}
	store := buffer.NewMemory(buffer.Options{})
	b, _ := newTestBatcher(t, store, clock.Now)
	rd := reading.Reading{Device: "dev", Channel: "x", Value: 1, Time: clock.Now()}
	must.NoError(t, b.add(poll{class: "telemetry", readings: []reading.Reading{rd}}))
	if next, err := b.closeDue(); err != nil || next.IsZero() || store.Stats().Batches != 0 {
		t.Fatalf("before the jump: next %v, err %v, %d closed batches; want the batch open", next, err, store.Stats().Batches)
	}
	clock.Jump(-time.Hour)
	if next, err := b.closeDue(); err != nil || !next.IsZero() || store.Stats().Batches != 1 {
		t.Errorf("after the clock went back: next %v, err %v, %d closed batches; want the batch closed", next, err, store.Stats().Batches)
	}
}

// flakyStore fails the next Append with err: ErrNotCommitted after storing
// the chunk (as the buffer does when a commit fails), any other error
// without storing it.
type flakyStore struct {
	buffer.Store
	err error
}

func (f *flakyStore) Append(seq uint64, chunk []byte, readings int) error {
	err := f.err
	f.err = nil
	if err == nil || errors.Is(err, buffer.ErrNotCommitted) {
		return errors.Join(f.Store.Append(seq, chunk, readings), err)
	}
	return err
}

// TestBatcherFollowsTheBuffer: a chunk the buffer accepted without
// committing it yet is part of the batch it signs, and when the buffer
// dropped the open batch (a full disk), the poll goes into a new batch; the
// batches verify as the buffer checks them.
func TestBatcherFollowsTheBuffer(t *testing.T) {
	store := &flakyStore{Store: buffer.NewMemory(buffer.Options{})}
	b, id := newTestBatcher(t, store, time.Now)
	add := func(v float64) {
		t.Helper()
		rd := reading.Reading{Device: "dev", Channel: "x", Value: v, Time: time.Now()}
		must.NoError(t, b.add(poll{class: "telemetry", readings: []reading.Reading{rd}}))
	}
	closeAll := func() {
		t.Helper()
		must.NoError(t, b.closeAll())
	}
	store.err = fmt.Errorf("append: %w: no space left on device", buffer.ErrNotCommitted)
	add(1)
	add(2)
	closeAll() // batch 1
	add(3)     // batch 2
	store.err = fmt.Errorf("append: %w", buffer.ErrUnknownBatch)
	add(4) // batch 2 was dropped: batch 3
	closeAll()
	bs, err := store.Next(0, 10)
	must.NoError(t, err)
	verify := verifier(id)
	for _, bt := range bs {
		if err := verify(bt); err != nil {
			t.Errorf("batch %d: %v", bt.Seq, err)
		}
	}
	if len(bs) != 2 || bs[0].Seq != 1 || len(bs[0].Chunks) != 2 || bs[1].Seq != 3 || len(bs[1].Chunks) != 1 {
		t.Fatalf("closed batches %+v, want batch 1 with two polls and batch 3 with the fourth", bs)
	}
	bad := bs[1]
	bad.Chunks = [][]byte{append([]byte{}, bad.Chunks[0]...)}
	bad.Chunks[0][3] ^= 1
	if err := verify(bad); err == nil {
		t.Error("a flipped bit in a chunk passed the buffer's check")
	}
}
