package envelope

import (
	"crypto/ed25519"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
)

// t0 is the time of the first test poll (whole seconds).
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// testIdentity returns a deterministic identity.
func testIdentity(tb testing.TB, id string, seed byte) *keys.Identity {
	tb.Helper()
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed + byte(i)
	}
	return &keys.Identity{ID: id, Key: ed25519.NewKeyFromSeed(s)}
}

// testRecipient returns a deterministic recipient key of suite s.
func testRecipient(tb testing.TB, s keys.Suite, seed byte) *keys.RecipientPrivate {
	tb.Helper()
	ikm := make([]byte, 32)
	for i := range ikm {
		ikm[i] = seed ^ byte(i)
	}
	k, err := s.KEM().DeriveKeyPair(ikm)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := keys.NewRecipientPrivate(s, k)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// meterChannels are the 12 channels of a three-phase meter.
var meterChannels = []struct {
	name string
	unit reading.Unit
	base float32
}{
	{"v1", reading.Volt, 230.1}, {"v2", reading.Volt, 229.7}, {"v3", reading.Volt, 231.4},
	{"i1", reading.Ampere, 12.37}, {"i2", reading.Ampere, 11.92}, {"i3", reading.Ampere, 13.05},
	{"p1", reading.Watt, 2846.2}, {"p2", reading.Watt, 2738.9}, {"p3", reading.Watt, 3019.6},
	{"pf", "/", 0.97}, {"f", reading.Hertz, 50.02}, {"e", reading.KWh, 123456.7},
}

// meterPoll returns poll k of meter dev: 12 float32 readings read in one
// register block at t0 + k*10s.
func meterPoll(dev string, k int) []reading.Reading {
	rs := make([]reading.Reading, len(meterChannels))
	for i, c := range meterChannels {
		rs[i] = reading.Reading{
			Device:  dev,
			Channel: c.name,
			Value:   float64(c.base + float32(k)*0.1),
			Unit:    c.unit,
			Time:    t0.Add(time.Duration(k) * 10 * time.Second),
		}
	}
	return rs
}

// meterReadings returns n readings of meter dev in polls of 12.
func meterReadings(dev string, n int) [][]reading.Reading {
	var polls [][]reading.Reading
	for k := 0; n > 0; k++ {
		p := meterPoll(dev, k)
		if n < len(p) {
			p = p[:n]
		}
		n -= len(p)
		polls = append(polls, p)
	}
	return polls
}

// seal builds a signed wire envelope of polls.
func seal(tb testing.TB, id *keys.Identity, r *keys.RecipientPublic, seq uint64, polls [][]reading.Reading) (header []byte, chunks [][]byte, trailer, wire []byte) {
	tb.Helper()
	b, err := NewBatch(r, id.ID, "telemetry", 7, t0)
	if err != nil {
		tb.Fatal(err)
	}
	header, err = b.Header(seq)
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range polls {
		c, err := b.Seal(p)
		if err != nil {
			tb.Fatal(err)
		}
		chunks = append(chunks, c)
	}
	trailer, err = Sign(id, header, chunks)
	if err != nil {
		tb.Fatal(err)
	}
	return header, chunks, trailer, Marshal(header, chunks, trailer)
}

// openWire runs Parse, Verify and Open.
func openWire(wire []byte, trust Trust, rks ...*keys.RecipientPrivate) ([]reading.Reading, error) {
	e, err := Parse(wire)
	if err != nil {
		return nil, err
	}
	if err := e.Verify(trust); err != nil {
		return nil, err
	}
	return e.Open(rks...)
}

// reason returns the RejectError reason of err, or "" if it is not one.
func reason(err error) string {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}

// flatten concatenates polls.
func flatten(polls [][]reading.Reading) []reading.Reading {
	var out []reading.Reading
	for _, p := range polls {
		out = append(out, p...)
	}
	return out
}

// sameReadings reports the first difference between got and want, comparing
// times with Equal and values bit for bit (except ReadError readings).
func sameReadings(t *testing.T, got, want []reading.Reading) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d readings, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		wv, gv := w.Value, g.Value
		if w.Flags&reading.ReadError != 0 {
			wv, gv = 0, 0
		}
		if g.Device != w.Device || g.Channel != w.Channel || g.Unit != w.Unit || g.Flags != w.Flags ||
			!g.Time.Equal(w.Time.Round(time.Millisecond)) || math.Float64bits(gv) != math.Float64bits(wv) {
			t.Fatalf("reading %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}
