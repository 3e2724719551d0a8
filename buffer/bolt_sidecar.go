package buffer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/edgegw/edgegw/internal/atomicfile"
)

// reserveBlock is how many sequence numbers one write of the sidecar
// reserves.
const reserveBlock = 10000

// reservation is the first line of the <path>.seq sidecar file. Sequence
// numbers below to may have been used; Begin never assigns a number at or
// above to before a new reservation is written. from is the number that
// started the current block, and low the smallest number that was still
// stored, queued or part of an unreported gap when the block was reserved:
// if the buffer file is lost, the numbers from low to to-1 are reported as a
// gap.
type reservation struct {
	low, from, to uint64
	gaps          int // gap lines written with it
	held          int // held lines written with it
}

// sidecarSize is the fixed size of the sidecar: writing it in place on a
// full disk then never needs a new block.
const sidecarSize = 1024

// maxSidecarGaps is how many gap lines the sidecar holds; more gaps are
// merged into the last line (its counts stay exact).
const maxSidecarGaps = 8

// maxSidecarHeld is how many held lines the sidecar holds; more are merged
// into the last one.
const maxSidecarHeld = 2

// held is what the sidecar says of the batches kept only in memory while
// commits fail: the gaps they would leave if the process died now (their
// numbers and all their readings), and the bbolt transaction the file was
// at. At the next open they are reported only if the file is still at that
// transaction: a later commit took them into the file.
type held struct {
	tx   uint64
	gaps []Gap
}

// readSidecar reads the reservation, the gaps the sidecar carries and what
// it says was held in memory. Version 1 files (one line, no gaps) and
// version 2 files (no held lines) are read too.
func readSidecar(path string) (reservation, []Gap, held, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return reservation{}, nil, held{}, err
	}
	fail := func(err error) (reservation, []Gap, held, error) {
		return reservation{}, nil, held{}, fmt.Errorf("parse %s: %w", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), " \n"), "\n")
	var r reservation
	var v int
	if _, err := fmt.Sscanf(lines[0], "edgegw-seq %d %d %d %d", &v, &r.low, &r.from, &r.to); err != nil {
		return fail(err)
	}
	if v < 1 || v > 3 || r.low > r.from || r.from > r.to {
		return fail(errDecode)
	}
	var gaps []Gap
	var h held
	for _, line := range lines[1:] {
		var g Gap
		var err error
		if strings.HasPrefix(line, "held ") {
			_, err = fmt.Sscanf(line, "held %d %d %d %d %d %s", &h.tx, &g.FromSeq, &g.ToSeq, &g.Batches, &g.Readings, &g.Reason)
		} else {
			_, err = fmt.Sscanf(line, "gap %d %d %d %d %s", &g.FromSeq, &g.ToSeq, &g.Batches, &g.Readings, &g.Reason)
		}
		if err != nil || g.FromSeq > g.ToSeq {
			return fail(fmt.Errorf("line %q: %w", line, errDecode))
		}
		if strings.HasPrefix(line, "held ") {
			h.gaps = append(h.gaps, g)
		} else {
			gaps = append(gaps, g)
		}
	}
	r.gaps, r.held = len(gaps), len(h.gaps)
	return r, gaps, h, nil
}

// mergeInto returns gaps with those beyond the first n merged into the nth:
// the counts stay exact, the last range widens.
func mergeInto(gaps []Gap, n int) []Gap {
	var merged []Gap
	for _, g := range gaps {
		if len(merged) < n {
			merged = append(merged, g)
			continue
		}
		last := &merged[len(merged)-1]
		mergeGap(last, g)
		last.Reason = mergeReasons(last.Reason, g.Reason)
	}
	return merged
}

// writeSidecar replaces the sidecar atomically: temporary file, fsync,
// rename, fsync of the directory. When the filesystem is full, it overwrites
// the existing sidecar in place instead, which needs no new block: the file
// always has sidecarSize bytes, padded with spaces. The version is 2 unless
// there are held lines (3), so that a file without them reads as before.
func writeSidecar(path string, r reservation, gaps []Gap, h held) error {
	v := 2
	if len(h.gaps) > 0 {
		v = 3
	}
	line := fmt.Appendf(nil, "edgegw-seq %d %020d %020d %020d\n", v, r.low, r.from, r.to)
	for _, g := range mergeInto(gaps, maxSidecarGaps) {
		line = fmt.Appendf(line, "gap %d %d %d %d %s\n", g.FromSeq, g.ToSeq, g.Batches, g.Readings, g.Reason)
	}
	for _, g := range mergeInto(h.gaps, maxSidecarHeld) {
		line = fmt.Appendf(line, "held %d %d %d %d %d %s\n", h.tx, g.FromSeq, g.ToSeq, g.Batches, g.Readings, g.Reason)
	}
	if len(line) > sidecarSize-1 {
		return fmt.Errorf("sidecar of %d bytes: %w", len(line), ErrInvalid)
	}
	line = append(line, bytes.Repeat([]byte{' '}, sidecarSize-1-len(line))...)
	line = append(line, '\n')
	err := atomicfile.WriteFile(path, line, 0o600)
	if errors.Is(err, syscall.ENOSPC) {
		if inPlace := overwriteFile(path, line); inPlace == nil {
			return nil
		}
	}
	return err
}

// overwriteFile writes data over the start of the existing file at path and
// syncs it.
func overwriteFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
