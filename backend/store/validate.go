package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// validate reports why b cannot be stored, wrapping ErrInvalid.
func validate(b *Batch) error {
	if err := b.check(); err != nil {
		return fmt.Errorf("batch %q seq %d: %w: %w", b.Gateway, b.Seq, err, ErrInvalid)
	}
	return nil
}

func (b *Batch) check() error {
	if b.Gateway == "" {
		return fmt.Errorf("empty gateway")
	}
	if err := firstErr(
		text("gateway", b.Gateway),
		text("class", b.Class),
		inTime("created", b.Created),
		inTime("received", b.Received),
	); err != nil {
		return err
	}
	switch {
	case b.Seq == 0 || b.Seq > MaxSeq:
		return fmt.Errorf("sequence number outside 1..%d", uint64(MaxSeq))
	case b.ConfigVersion > math.MaxInt64:
		return fmt.Errorf("config version %d above %d", b.ConfigVersion, int64(math.MaxInt64))
	case b.Size < 0 || b.Size > math.MaxInt32:
		return fmt.Errorf("size %d outside 0..%d", b.Size, math.MaxInt32)
	case len(b.Readings) > math.MaxInt32:
		return fmt.Errorf("%d readings, more than %d", len(b.Readings), math.MaxInt32)
	case b.Class == "":
		return fmt.Errorf("empty class")
	}
	switch b.Class {
	case ClassGap:
		if b.Gap == nil || len(b.Readings) > 0 || b.Audit != nil {
			return fmt.Errorf("class %s needs a gap record and nothing else", ClassGap)
		}
		g := b.Gap
		if g.FromSeq == 0 || g.FromSeq > g.ToSeq || g.ToSeq > MaxSeq {
			return fmt.Errorf("gap record range %d..%d outside 1..%d or reversed", g.FromSeq, g.ToSeq, uint64(MaxSeq))
		}
		if g.Batches > math.MaxInt64 || g.Readings > math.MaxInt64 {
			return fmt.Errorf("gap record counts %d batches, %d readings: above %d", g.Batches, g.Readings, int64(math.MaxInt64))
		}
		return text("gap record reason", g.Reason)
	case ClassAudit:
		if b.Audit == nil || len(b.Readings) > 0 || b.Gap != nil {
			return fmt.Errorf("class %s needs an audit record and nothing else", ClassAudit)
		}
		if !json.Valid(b.Audit) || !bytes.HasPrefix(bytes.TrimLeft(b.Audit, " \t\r\n"), []byte("{")) || bytes.IndexByte(b.Audit, 0) >= 0 {
			return fmt.Errorf("audit record is not one JSON object")
		}
		return nil
	}
	if b.Gap != nil || b.Audit != nil {
		return fmt.Errorf("data class %q with a gap or audit record", b.Class)
	}
	for i := range b.Readings {
		r := &b.Readings[i]
		err := firstErr(text("device", r.Device), text("channel", r.Channel), text("unit", r.Unit), inTime("time", r.Time))
		if err == nil && r.Value != nil && math.IsNaN(*r.Value) {
			err = fmt.Errorf("value NaN (a reading without a value is a read-error reading, Value nil)")
		}
		if err != nil {
			return fmt.Errorf("reading %d: %w", i, err)
		}
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// text refuses a string PostgreSQL's text cannot hold.
func text(field, s string) error {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s %q: not UTF-8 or containing NUL", field, s)
	}
	return nil
}

// inTime refuses a time outside the years 1..9999, which both engines store.
func inTime(field string, t time.Time) error {
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return fmt.Errorf("%s %s: year outside 1..9999", field, t.UTC().Format(time.RFC3339))
	}
	return nil
}

// cleanText makes a reject's text storable: valid UTF-8 without NUL, at most
// MaxRejectText bytes.
func cleanText(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) <= MaxRejectText {
		return s
	}
	cut := MaxRejectText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
