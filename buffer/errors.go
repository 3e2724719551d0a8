package buffer

import "errors"

// ErrUnknownBatch is returned by Append and Seal when the sequence number does
// not name an open batch: it was never begun, it is already sealed, it was
// acknowledged, or the store dropped it because it could not be committed
// (and reported it in a gap).
var ErrUnknownBatch = errors.New("unknown or closed batch")

// ErrBatchOpen is returned by Ack when a sequence number names a batch that is
// still open: only sealed batches are published, so only they can be
// acknowledged.
var ErrBatchOpen = errors.New("batch still open")

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("buffer closed")

// ErrInvalid is returned when a caller passes an argument the buffer cannot
// store, such as an empty trailer or a gap batch without a trailer.
var ErrInvalid = errors.New("invalid argument")

// ErrNotCommitted wraps the cause when a commit fails, for example because
// the disk is full. The operation that reported it was accepted and stays
// queued in memory: a later commit (the next window, Sync, Seal or Close)
// stores it, so the caller must not repeat it. A Begin that returns it also
// returns a valid sequence number.
var ErrNotCommitted = errors.New("not committed yet")

// ErrCorrupt is the cause when bbolt failed (panicked or faulted) on damage
// to the file that the check at open did not find. The store then replaces
// the file at once (see Bolt) and retries; it is returned, wrapped in
// ErrNotCommitted for writes, only while a fresh file cannot be created.
var ErrCorrupt = errors.New("buffer file damaged")

// ErrLocked is the cause when the buffer file is locked by another process:
// another agent runs on the same state directory. The error names that
// process where the system says which it is.
var ErrLocked = errors.New("another edgegw agent holds the buffer: stop it first, or give this one another gateway.state")
