package envelope

import (
	"testing"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
)

// FuzzOpen checks that Parse, Verify and Open (or Gap, or Audit) never panic on arbitrary
// bytes, and never return readings for an envelope that was not signed by the
// trusted key.
func FuzzOpen(f *testing.F) {
	id := testIdentity(f, "gw-1", 1)
	rk := testRecipient(f, keys.SuiteX25519, 2)
	trust := NewTrust(id.Public())
	_, _, _, w := seal(f, id, rk.Public(), 1, meterReadings("m", 14))
	f.Add(w)
	_, _, _, w = seal(f, id, rk.Public(), 2, [][]reading.Reading{meterPoll("m", 0)[:1]})
	f.Add(w)
	gh, _ := GapHeader("gw-1", 3, 1, t0)
	gc, _ := GapChunks(Gap{FromSeq: 1, ToSeq: 2, Batches: 2, Readings: 10, Reason: "buffer-full"})
	gt, _ := Sign(id, gh, gc)
	f.Add(Marshal(gh, gc, gt))
	ah, _ := RecordHeader("gw-1", AuditClass, 4, 1, t0)
	ac := [][]byte{[]byte(`{"action":"buffer.flush","args":{"a":"b"},"result":"ok"}`)}
	at, _ := Sign(id, ah, ac)
	f.Add(Marshal(ah, ac, at))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(data)
		if err != nil {
			if reason(err) == "" {
				t.Fatalf("Parse error is not a RejectError: %v", err)
			}
			return
		}
		if _, err := e.Open(rk); err == nil {
			t.Fatal("Open before Verify succeeded")
		}
		if err := e.Verify(trust); err != nil {
			return
		}
		switch e.Header.Class {
		case GapClass:
			_, _ = e.Gap()
		case AuditClass:
			_, _ = e.Audit()
		default:
			_, _ = e.Open(rk)
		}
	})
}

// benchBatch returns the identity, recipient key and readings of the benchmarks.
func benchBatch(b *testing.B, s keys.Suite) (*keys.Identity, *keys.RecipientPrivate, [][]reading.Reading) {
	return testIdentity(b, "gw-1", 1), testRecipient(b, s, 2), meterReadings("meter-1", 100)
}

// BenchmarkSeal100 seals 100 readings of a 12-channel meter in polls of 12 and
// signs the batch.
func BenchmarkSeal100(b *testing.B) {
	for _, s := range []keys.Suite{keys.SuiteX25519, keys.SuiteMLKEM768X25519} {
		b.Run(s.String(), func(b *testing.B) {
			id, rk, polls := benchBatch(b, s)
			pub := rk.Public()
			var wire []byte
			b.ReportAllocs()
			for b.Loop() {
				_, _, _, wire = seal(b, id, pub, 1, polls)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/reading")
			b.ReportMetric(float64(len(wire))/100, "B/reading")
		})
	}
}

// BenchmarkOpen parses, verifies and opens a 100-reading meter batch.
func BenchmarkOpen(b *testing.B) {
	for _, s := range []keys.Suite{keys.SuiteX25519, keys.SuiteMLKEM768X25519} {
		b.Run(s.String(), func(b *testing.B) {
			id, rk, polls := benchBatch(b, s)
			_, _, _, wire := seal(b, id, rk.Public(), 1, polls)
			trust := NewTrust(id.Public())
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for b.Loop() {
				rs, err := openWire(wire, trust, rk)
				if err != nil || len(rs) != 100 {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/reading")
			b.ReportMetric(float64(len(wire))/100, "B/reading")
		})
	}
}

// BenchmarkEncodeSenML encodes one 12-channel meter poll.
func BenchmarkEncodeSenML(b *testing.B) {
	poll := meterPoll("meter-1", 0)
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		var err error
		if buf, err = appendSenML(buf[:0], poll); err != nil {
			b.Fatal(err)
		}
	}
}
