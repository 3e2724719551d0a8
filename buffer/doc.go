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
//     batches last), counted in Stats and added to the pending gaps, which
//     TakeGap turns into closed batches of class GapClass with the next
//     sequence numbers, so the backend learns about every loss. A gap
//     covers adjacent numbers dropped for one reason; its Batches and
//     Readings are exact, or zero with ReasonCountUnknown in its reason
//     when they cannot be known.
//
// # Durability
//
// Begin, Append, Seal and Ack are group-committed: queued in memory and
// written in one bbolt transaction at most Options.Durability after they were
// accepted (before the call returns when it is zero); Options.OnCommit tells
// when a closed batch became publishable. A kill -9 or power cut loses at
// most the last window of Appends; a lost Seal is redone from the stored
// chunks at the next start. TakeGap, Sync and Close commit before returning.
// Ack may be lost in the same way, so a batch may be published twice; the
// backend deduplicates by sequence number. Next and Unsealed only show
// committed batches, so a published number is always on disk.
//
// # A full disk
//
// Options.Reserve allocates the file's blocks when it is opened (FileSize
// tells what a content limit needs: bbolt's pages hold more than their
// content), so that other files filling the filesystem leave the buffer
// its room. When the filesystem has less, the store allocates what it can,
// and before each commit makes sure the file can take it without new
// blocks: it allocates more while the filesystem has room, and otherwise
// drops the oldest closed batches (ReasonDiskFull), in a transaction of
// their own, so that the commit can use their pages. A commit that fails
// all the same (no reservation, a filesystem without fallocate, an I/O
// error) keeps its operations in memory, returns an error wrapping
// ErrNotCommitted, keeps it in Stats.CommitErr, and is retried every
// window; beyond Options.MaxPending, whole batches are dropped from memory,
// oldest first, as ReasonDiskFull, and their gaps are written to the
// sidecar. Close drops what it cannot commit the same way: the next OpenBolt
// reports those gaps (and deletes what of those batches reached the file).
//
// # On-disk layout
//
// The bbolt file (mode 0600) has three buckets:
//
//	meta     "version" → schema version (uint64 big-endian, 1)
//	         "state"   → next seq, bytes, readings, closed and open batches,
//	                     dropped batches and readings (version byte + 7 uint64)
//	         "gap"     → pending gaps, absent when none: version byte 2,
//	                     count (uvarint), then for each from, to, batches,
//	                     readings (uint64) and reason (version 1, written by
//	                     earlier releases, holds one gap without the count)
//	batches  seq (uint64 big-endian) → record: version, flags (bit 0: closed),
//	         created (Unix ns), readings, bytes, chunk count (uvarints),
//	         class, header, trailer (uvarint length+1, then bytes; 0 = nil)
//	chunks   seq (8 bytes) ‖ index (uint32 big-endian) → chunk bytes
//
// Beside it, path+".seq" is a text sidecar of exactly 1024 bytes (padded
// with spaces): a line "edgegw-seq 2 low from to" (numbers zero-padded to
// 20 digits), then up to 8 lines "gap from to batches readings reason" for
// gaps not yet committed to the file. While commits fail, up to 2 lines
// "held tx from to batches readings reason" (and version 3) say what the
// batches kept only in memory would leave if the process died: the next
// start reports them as a gap, dropping what of them is in the file, unless
// the file has moved past bbolt transaction tx (a later commit took them).
// A tx of 0 means the process had no file (it could not replace a damaged
// one): nothing of them reached a file.
// It is written atomically (temporary file, fsync, rename, directory fsync)
// when the file is opened, before any commit that uses a number at or above
// the previous "to", when gaps are carried, and after each failed commit;
// on a full disk it is overwritten in place. Begin reserves blocks of 10000
// numbers. Numbers in a gap are used: numbering goes on above them.
//
// # Damage
//
// OpenBolt checks an existing file first without bbolt, reading its pages
// with ordinary reads: both meta pages, the freelist (it must list only data
// pages below the high-water mark, never a meta page, its own pages or a
// page in use), and the whole page tree (each page says its own number, is
// referenced once, keeps its elements within its bounds and its keys in
// order); every page below the high-water mark must be in use or free, and
// the file must hold them all. Then bbolt opens it and every record is
// decoded. Every later use of bbolt (commits, Next, Unsealed, Backup) runs
// with panics recovered and memory faults turned into panics
// (debug.SetPanicOnFault): bbolt reads the file through a memory map, so
// damage can fault as well as panic.
//
// A file found damaged, at open or in use, is replaced without stopping the
// store: a fresh file is built beside it, the damaged file is read page by
// page and every closed batch that passes Options.Verify (its signature
// covers header and chunks, so it is intact by construction) is stored
// again under its sequence number; the damaged file is kept as
// path+".corrupt-<UTC time>" (such as .corrupt-20261125T090000Z; only the
// newest two are kept) and the fresh one takes its place. Gaps with reason
// ReasonCorruptBuffer report the rest: the batches whose records could be
// read, with their readings; numbers neither the damaged file nor a
// process holding batches in memory used, with zero counts; and numbers
// whose records could not be read, with ReasonCountUnknown. The batches the
// sidecar's held lines name are reported with their readings (reason
// ReasonDiskFull) when the damaged file is still at the transaction those
// lines name or their process had no file; otherwise their numbers are
// among those with ReasonCountUnknown. When the damage is found in use, the store knows
// which numbers were in the file (the others were delivered or reported),
// and the open batches, which it keeps in memory, are written into the
// fresh file and go on. At open, the numbers from the sidecar's low-water
// mark (the oldest number still stored, queued or unreported when the block
// was reserved) to its reservation are considered, and numbering continues
// above the reservation; a file that disappeared while the sidecar remained
// is reported alike with ReasonMissingBuffer. Without a sidecar, numbering
// restarts at the current Unix time in seconds and the gaps start at 1.
// Recovered says what happened. A marker file path+".checking" exists
// during the check and from the moment damage is found until the file is
// replaced, so that a process that dies meanwhile replaces it at the next
// start instead of crash-looping.
//
// Damage inside a value (a flipped byte in a chunk) passes every check, as
// bbolt keeps no checksum of values: Next verifies each closed batch with
// Options.Verify before returning it, and deletes one that fails, reporting
// it with ReasonDamagedBatch.
package buffer
