package buffer

import (
	"log/slog"
	"time"
)

// Options configures a Store. The zero value is valid: every Append is
// committed before it returns, there are no limits, the clock is time.Now and
// nothing is logged.
type Options struct {
	// Durability is the group-commit window: Begin, Append and Ack are
	// committed together at most this long after they were accepted. Zero
	// commits each call before it returns. A kill -9 or power cut loses at
	// most the last window of Appends. Typical: 1s. Range 0 to a few seconds.
	Durability time.Duration
	// MaxBytes bounds the bytes of headers, chunks and trailers stored. When
	// exceeded, the oldest closed batches are dropped and reported as a gap.
	// Zero means unlimited. Unit: bytes.
	MaxBytes int64
	// Reserve is the disk space allocated to the file when it is opened
	// (fallocate on Linux), so that a filesystem that others fill up does
	// not stop commits while the buffer stays within it; FileSize tells
	// what MaxBytes needs. When the filesystem has less room, the store
	// allocates what it can, keeps its content within what that holds
	// (dropping the oldest batches as ReasonDiskFull) and tries again to
	// allocate the rest as commits need it. Zero reserves nothing. Unit:
	// bytes.
	Reserve int64
	// MaxPending bounds the operations held in memory while commits fail
	// (a full disk without a reservation, an I/O error): beyond it, whole
	// batches are dropped from memory, oldest first, and reported as
	// ReasonDiskFull. What is still in memory when the store is closed is
	// dropped the same way, its gap carried in the sequence sidecar. Zero
	// means DefaultMaxPending. Unit: bytes.
	MaxPending int64
	// Verify, when set, checks a closed batch's signature. A batch that
	// fails it is never returned by Next: it is deleted and reported as
	// ReasonDamagedBatch. When a damaged file is replaced, its closed
	// batches that pass Verify are kept under their sequence numbers; without
	// Verify none is kept.
	Verify func(Batch) error
	// MaxAge bounds how long a batch is kept, measured from its creation time
	// with the Now clock. Older closed batches are dropped and reported as a
	// gap. Zero means unlimited.
	MaxAge time.Duration
	// Now is the clock used for ages and for gap and recovery timestamps. Nil
	// means time.Now.
	Now func() time.Time
	// Logger receives the buffer's few log messages. Nil discards them.
	Logger *slog.Logger
	// OnCommit, when set, is called after a commit that closed at least one
	// batch (sealed it or stored a gap record), so that the uplink can
	// publish it. It runs under the store's lock: it must not block or call
	// back into the store.
	OnCommit func()
}

// DefaultMaxPending is the memory bound on uncommitted operations when
// Options.MaxPending is zero.
const DefaultMaxPending = 4 << 20

func (o Options) maxPending() int64 {
	if o.MaxPending > 0 {
		return o.MaxPending
	}
	return DefaultMaxPending
}

func (o Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}
