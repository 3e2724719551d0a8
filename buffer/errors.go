package buffer

import "errors"

// ErrUnknownBatch is returned by Append and Seal when the sequence number does
// not name an open batch: it was never begun, it is already sealed, or it was
// acknowledged.
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

// ErrCorrupt is returned by every method after bbolt failed on damage to the
// file that the check at open did not find. The file is marked so that the
// next OpenBolt moves it aside and reports the loss as a gap; the process
// should stop and start again.
var ErrCorrupt = errors.New("buffer file damaged")
