package gateway

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/gateway/gatewaytest"
)

// TestBatcherClosesAfterClockWentBack: a batch begun just before the wall
// clock went back an hour still closes at once, not an hour later.
func TestBatcherClosesAfterClockWentBack(t *testing.T) {
	dir := t.TempDir()
	if err := keys.InitIdentity(dir, "gw-001", false); err != nil {
		t.Fatal(err)
	}
	if err := keys.GenerateRecipient(dir, keys.SuiteX25519, false); err != nil {
		t.Fatal(err)
	}
	id, err := keys.LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := keys.LoadRecipientPublic(filepath.Join(dir, "recipient.pub"))
	if err != nil {
		t.Fatal(err)
	}
	clock := &gatewaytest.WallClock{}
	store := buffer.NewMemory(buffer.Options{})
	b := &batcher{gatewayID: "gw-001", configVersion: 1, identity: id,
		recipients: map[string]*keys.RecipientPublic{"telemetry": rcpt},
		store:      store, maxReadings: 100, maxDelay: time.Second, now: clock.Now,
		log: slog.New(slog.DiscardHandler), open: map[string]*openBatch{}}
	rd := reading.Reading{Device: "dev", Channel: "x", Value: 1, Time: clock.Now()}
	if err := b.add(poll{class: "telemetry", readings: []reading.Reading{rd}}); err != nil {
		t.Fatal(err)
	}
	if next, err := b.closeDue(); err != nil || next.IsZero() || store.Stats().Batches != 0 {
		t.Fatalf("before the jump: next %v, err %v, %d closed batches; want the batch open", next, err, store.Stats().Batches)
	}
	clock.Jump(-time.Hour)
	if next, err := b.closeDue(); err != nil || !next.IsZero() || store.Stats().Batches != 1 {
		t.Errorf("after the clock went back: next %v, err %v, %d closed batches; want the batch closed", next, err, store.Stats().Batches)
	}
}
