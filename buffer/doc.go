// Package buffer is the store-and-forward queue between the pipeline and the
// uplink: sealed chunks go in as they are polled, closed and signed batches
// come out in sequence order, and they are deleted only once the broker has
// acknowledged them. The buffer only ever sees ciphertext.
//
// # Contract
//
// Store is implemented by Bolt (a bbolt file) and Memory (an in-memory twin);
// the buffertest package checks both against the same suite.
//
//   - Begin assigns per-gateway sequence numbers, starting at 1 and strictly
//     increasing across data classes; they are never reused, even after the
//     file is lost (see the sidecar below). The header is built by a callback
//     once the number is known and stored in the same transaction.
//   - Append adds chunks in order to an open batch; Seal stores the trailer
//     and closes it. Unsealed returns the batches left open by a crash, for
//     the pipeline to close after a restart.
//   - Next returns committed closed batches in ascending order; Ack deletes
//     them.
//   - Options.MaxBytes and Options.MaxAge bound the content. When exceeded,
//     the oldest closed batches are dropped (never an open one, and gap
//     batches last), counted in Stats and merged into a pending Gap, which
//     TakeGap turns into a closed batch of class GapClass with the next
//     sequence number, so the backend learns about every loss.
//
// # Durability
//
// Begin, Append, Seal and Ack are group-committed: queued in memory and
// written in one bbolt transaction at most Options.Durability after they were
// accepted (before the call returns when it is zero); Options.OnCommit tells
// when a closed batch became publishable. A kill -9 or power cut loses at
// most the last window of Appends; a lost Seal is redone from the stored
// chunks at the next start. TakeGap, Sync and Close commit before returning. Ack may be lost in the same way, so a batch may be
// published twice; the backend deduplicates by sequence number. Next and
// Unsealed only show committed batches, so a published number is always on
// disk. If a commit fails (a full disk), the operations stay queued, the
// error (wrapping ErrNotCommitted) is returned by eager calls and Sync and
// kept in Stats.CommitErr, and the next window retries. Options.Reserve
// makes that rare: the file's blocks are allocated when it is opened, so a
// filesystem that other files fill up leaves the buffer room within its
// reservation.
//
// # On-disk layout
//
// The bbolt file (mode 0600) has three buckets:
//
//	meta     "version" → schema version (uint64 big-endian, 1)
//	         "state"   → next seq, bytes, readings, closed and open batches,
//	                     dropped batches and readings (version byte + 7 uint64)
//	         "gap"     → pending gap, absent when none (version byte +
//	                     from, to, batches, readings + reason)
//	batches  seq (uint64 big-endian) → record: version, flags (bit 0: closed),
//	         created (Unix ns), readings, bytes, chunk count (uvarints),
//	         class, header, trailer (uvarint length+1, then bytes; 0 = nil)
//	chunks   seq (8 bytes) ‖ index (uint32 big-endian) → chunk bytes
//
// Beside it, path+".seq" is a one-line text sidecar "edgegw-seq 1 low from
// to" (numbers zero-padded to 20 digits), written atomically (temporary file,
// fsync, rename, directory fsync) when the file is opened and before any
// commit that uses a number at or above the previous "to"; on a full disk it
// is overwritten in place. Begin reserves blocks of 10000 numbers.
//
// # Corruption
//
// OpenBolt reads every page of an existing file and runs bbolt's Tx.Check,
// with panics and memory faults recovered. A file that fails is renamed to
// path+".corrupt-<UTC time>" (such as .corrupt-20261125T090000Z), logged at
// Error and replaced by a fresh file (only the newest two such files are
// kept); Bolt.Recovered says what happened. The
// fresh file numbers from the sidecar's reservation and holds a pending gap
// with reason "corrupt-buffer" from the sidecar's low-water mark (the oldest
// number still stored, queued or unreported when the block was reserved,
// which is at most the block's start) to the reservation minus one; its
// counts are zero because they are unknown. A file that disappeared while the
// sidecar remained is handled alike with reason "missing-buffer". Without a
// sidecar, numbering restarts at the current Unix time in seconds and the
// gap starts at 1. A marker file path+".checking" exists during the check,
// so a check that crashes the process marks the file corrupt at the next
// start instead of crash-looping.
package buffer
