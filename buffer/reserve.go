package buffer

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
	"time"
)

// FileSize is the disk space a buffer file needs to hold content bytes of
// headers, chunks and trailers (Stats.Bytes), for Options.Reserve: bbolt
// keeps each chunk under a 12-byte key with a 16-byte element header, fills
// pages to about 95 % (less after deletions), rounds large values up to
// whole pages, and allocates the new pages of each commit before it frees
// the old ones. Measured with chunks of 30 B to 7 KiB in two interleaved
// classes (TestFileSizeCoversGrowth), the file used at most 2.1 times its
// content beyond the first few hundred KiB (tiny chunks are the worst);
// FileSize allows 2.25 times, plus 1 MiB.
func FileSize(content int64) int64 { return content*9/4 + 1<<20 }

// errUnsupported is returned by fallocate where the filesystem or the
// system cannot allocate space in advance.
var errUnsupported = errors.New("space allocation not supported")

// Disk-space tuning.
const (
	// spaceMargin is left free on the filesystem when only part of the
	// reservation can be allocated, for the sidecar and other small files.
	spaceMargin = 256 << 10
	// spaceRetry is how often a reservation that failed is tried again.
	spaceRetry = 2 * time.Second
	// commitOverhead is what a commit may need beyond twice the bytes it
	// adds: rewritten leaf and branch pages, the freelist, the meta page.
	commitOverhead = 256 << 10
)

// space is the disk space allocated to the file.
type space struct {
	target      int64     // Options.Reserve
	alloc       int64     // bytes of the file known to be allocated; 0 when not tracked
	unsupported bool      // the filesystem cannot allocate in advance
	failed      time.Time // last attempt that did not get all it asked for
	warned      bool      // the shortfall was logged
}

// grow allocates the file's blocks up to want bytes, or as much of that as
// the filesystem has room for, leaving spaceMargin free. A shortfall is
// retried no more often than spaceRetry.
func (s *space) grow(path string, want int64, now time.Time, log *slog.Logger) {
	if s.unsupported || want <= 0 {
		return
	}
	if s.alloc == 0 {
		s.alloc = allocated(path)
	}
	if want <= s.alloc || (!s.failed.IsZero() && now.Sub(s.failed) < spaceRetry) {
		return
	}
	size := want
	err := reserveSpace(path, size)
	if isNoSpace(err) {
		size = s.alloc
		if free, ferr := freeSpace(path); ferr == nil {
			if part := min(want, allocated(path)+free-spaceMargin); part > s.alloc && reserveSpace(path, part) == nil {
				size = part
			}
		}
	}
	switch {
	case errors.Is(err, errUnsupported):
		s.unsupported, s.alloc = true, 0
		return
	case err == nil:
		s.alloc, s.failed, s.warned = max(s.alloc, size), time.Time{}, false
		return
	}
	s.alloc, s.failed = max(s.alloc, size), now
	if !s.warned {
		s.warned = true
		log.Warn("buffer disk space not fully reserved; the oldest batches are dropped when it runs out",
			"err", fmt.Errorf("%d of %d bytes allocated: %w", s.alloc, want, err))
	}
}

// reserveSpace makes sure the filesystem has allocated the first size bytes
// of the file at path, extending it when shorter. bbolt writes inside the
// file's current size without allocating, so a filesystem filled by
// something else (logs, a technician's copy) cannot stop commits until the
// buffer outgrows its reservation.
func reserveSpace(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	err = fallocate(f, size)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return errUnsupported
	}
	if err != nil {
		return fmt.Errorf("reserve %d bytes for %s: %w", size, path, err)
	}
	return nil
}
