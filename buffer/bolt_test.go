package buffer_test

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/buffer/buffertest"
)

// openBolt opens a Bolt in t.TempDir(), closes it on cleanup and then runs
// bbolt's consistency check on the file.
func openBolt(t *testing.T, opts buffer.Options) *buffer.Bolt {
	t.Helper()
	return openBoltAt(t, filepath.Join(t.TempDir(), "buffer.db"), opts)
}

func openBoltAt(t *testing.T, path string, opts buffer.Options) *buffer.Bolt {
	t.Helper()
	b, err := buffer.OpenBolt(path, opts)
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkFile(t, path)
	})
	return b
}

// checkFile runs Tx.Check on a closed buffer file.
func checkFile(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Errorf("check %s: %v", path, err)
		return
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("check %s: %v", path, err)
		}
		return nil
	})
	if err != nil {
		t.Errorf("check %s: %v", path, err)
	}
}

func TestBoltContract(t *testing.T) {
	buffertest.Run(t, func(t *testing.T, opts buffer.Options) buffer.Store { return openBolt(t, opts) })
}

// TestBoltContractWindow runs the suite with a window long enough that only
// Seal, TakeGap, Sync and Close commit.
func TestBoltContractWindow(t *testing.T) {
	buffertest.RunWith(t, buffer.Options{Durability: time.Hour}, func(t *testing.T, opts buffer.Options) buffer.Store {
		return openBolt(t, opts)
	})
}
