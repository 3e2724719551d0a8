package envelope

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/internal/detcbor"
	"github.com/edgegw/edgegw/internal/must"

	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/fxamacker/cbor/v2"
)

func TestSenMLRoundTrip(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		in   []reading.Reading
	}{
		{"meter poll", meterPoll("meter-1", 3)},
		{"one reading", []reading.Reading{{Device: "aq-1", Channel: "pm25", Value: 12.5, Unit: reading.MicrogramM, Time: t0}}},
		{"sub-second times", []reading.Reading{
			{Device: "aq-1", Channel: "t", Value: 21.5, Unit: reading.Celsius, Time: t0.Add(123 * ms)},
			{Device: "aq-1", Channel: "rh", Value: 40.25, Unit: reading.RelHumid, Time: t0.Add(623 * ms)},
			{Device: "aq-1", Channel: "p", Value: 101325, Unit: reading.Pascal, Time: t0.Add(2123 * ms)},
			{Device: "aq-1", Channel: "old", Value: -1, Unit: reading.Pascal, Time: t0.Add(-5 * time.Second)},
		}},
		{"several devices and units", []reading.Reading{
			{Device: "a", Channel: "x", Value: 1, Unit: reading.Volt, Time: t0},
			{Device: "b", Channel: "x", Value: 2, Unit: reading.Volt, Time: t0},
			{Device: "b", Channel: "y", Value: 3, Unit: "", Time: t0},
			{Device: "a", Channel: "z", Value: 4, Unit: reading.Volt, Time: t0},
		}},
		{"flags and read error", []reading.Reading{
			{Device: "m", Channel: "v1", Value: 1e6, Unit: reading.Volt, Time: t0, Flags: reading.OutOfRange | reading.Stuck},
			{Device: "m", Channel: "v2", Value: math.NaN(), Unit: reading.Volt, Time: t0, Flags: reading.ReadError},
			{Device: "m", Channel: "e", Value: 5, Unit: reading.KWh, Time: t0, Flags: reading.CounterWentBack | reading.ClockUnsynced | 0x8000},
		}},
		{"float values", []reading.Reading{
			{Device: "m", Channel: "a", Value: 0.1, Time: t0},                     // float64 only
			{Device: "m", Channel: "b", Value: math.Copysign(0, -1), Time: t0},    // -0
			{Device: "m", Channel: "c", Value: 5.960464477539063e-08, Time: t0},   // smallest float16 subnormal
			{Device: "m", Channel: "d", Value: math.MaxFloat64, Time: t0},         // largest
			{Device: "m", Channel: "e", Value: 65504, Time: t0},                   // largest float16
			{Device: "m", Channel: "f", Value: 1e-45, Time: t0},                   // float32 subnormal region
			{Device: "m", Channel: "g", Value: float64(float32(230.1)), Time: t0}, // float32
		}},
		{"clock not synchronised", []reading.Reading{{Device: "m", Channel: "v", Value: 1, Time: time.Unix(12, 5e6), Flags: reading.ClockUnsynced}}},
		{"names", []reading.Reading{{Device: "0-dev.a/b_c", Channel: "ch:1/x-y.z_", Value: 1, Time: t0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodeSenML(tc.in)
			must.NoError(t, err)
			must.NoError(t, cbor.Wellformed(b))
			got, err := DecodeSenML(b)
			if err != nil {
				t.Fatalf("decode %x: %v", b, err)
			}
			sameReadings(t, got, tc.in)
			if ref := referenceSenML(t, tc.in); !bytes.Equal(b, ref) {
				t.Errorf("encoding differs from the fxamacker reference:\n got %x\nwant %x", b, ref)
			}
		})
	}
}

// referenceSenML encodes readings with fxamacker's deterministic encoder from
// generic maps, following the rules of docs/envelope.md, as an independent
// check of the hand-written encoder.
func referenceSenML(t *testing.T, rs []reading.Reading) []byte {
	t.Helper()
	em, err := cbor.CoreDetEncOptions().EncMode()
	must.NoError(t, err)
	secs := func(ms int64) any {
		if ms%1000 == 0 {
			return ms / 1000
		}
		return float64(ms) / 1000
	}
	var pack []map[any]any
	var dev string
	var unit reading.Unit
	var bt int64
	for i, r := range rs {
		m := map[any]any{0: r.Channel}
		ms := r.Time.Round(time.Millisecond).UnixMilli()
		if i == 0 {
			bt = ms
			m[-3] = secs(ms)
		} else if ms != bt {
			m[6] = secs(ms - bt)
		}
		if i == 0 || r.Device != dev {
			m[-2] = r.Device + ":"
			dev = r.Device
		}
		if r.Unit != unit {
			m[-4] = string(r.Unit)
			unit = r.Unit
		}
		if r.Flags&reading.ReadError == 0 {
			m[2] = r.Value
		}
		if r.Flags != 0 {
			m["q"] = uint16(r.Flags)
		}
		pack = append(pack, m)
	}
	b, err := em.Marshal(pack)
	must.NoError(t, err)
	return b
}

// TestFloat16 compares appendFloat with fxamacker's ShortestFloat16 encoding on
// edge cases and random values.
func TestFloat16(t *testing.T) {
	em, err := cbor.EncOptions{ShortestFloat: cbor.ShortestFloat16}.EncMode()
	must.NoError(t, err)
	vals := []float64{0, 1, -1, 0.5, 65504, 65505, 65520, 6.103515625e-05, 6.097555160522461e-05,
		5.960464477539063e-08, 2.9802322387695312e-08, 1.7881393432617188e-07, 1e-45, math.MaxFloat32,
		math.SmallestNonzeroFloat32, math.SmallestNonzeroFloat64, 230.1, 1 << 15, 1 << 16, 3.0517578125e-05}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		// random float16 and float32 bit patterns, and random float64s
		vals = append(vals,
			float64(math.Float32frombits(uint32(rng.Uint32N(1<<16))<<13|rng.Uint32()&1<<31)),
			float64(math.Float32frombits(rng.Uint32())),
			math.Float64frombits(rng.Uint64()))
	}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		want, err := em.Marshal(v)
		must.NoError(t, err)
		if got := appendFloat(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("appendFloat(%g) = %x, want %x", v, got, want)
		}
	}
}

// TestSenMLSize checks the plaintext size of a 12-channel three-phase meter
// poll with float32 values against a computed budget.
func TestSenMLSize(t *testing.T) {
	poll := meterPoll("meter-1", 0)
	b, err := EncodeSenML(poll)
	must.NoError(t, err)
	// Budget: per record a map head (1), the name label and text (2+len), the
	// value label and float32 (1+5); plus the array head (1), the base name
	// (1+1+len("meter-1:")), the base time (1+5) and one base unit per unit
	// change (1+1+len(unit)).
	budget := 1 + 2 + len("meter-1:") + 6
	var unit reading.Unit
	for _, r := range poll {
		budget += 1 + 2 + len(r.Channel) + 6
		if r.Unit != unit {
			budget += 2 + len(r.Unit)
			unit = r.Unit
		}
	}
	per := float64(len(b)) / float64(len(poll))
	t.Logf("12-channel meter poll: %d bytes plaintext (budget %d), %.2f B/reading; sealed chunk %d bytes", len(b), budget, per, len(b)+16)
	if len(b) > budget {
		t.Errorf("plaintext %d bytes > budget %d: %x", len(b), budget, b)
	}
	if per > 14 {
		t.Errorf("%.2f bytes/reading > 14", per)
	}
	// A typical record {0: "v1", 2: 230.1f32} costs 11 bytes: a2 00 62 7631 02 fa 4366199a.
	rec := appendFloat(detcbor.AppendHead(appendText(appendInt(detcbor.AppendHead(nil, majorMap, 2), 0), "v1"), majorUint, 2), float64(float32(230.1)))
	if len(rec) != 11 || !bytes.Contains(b, rec[1:]) {
		t.Errorf("typical record %x (%d bytes) not found in %x", rec, len(rec), b)
	}
}

func TestSenMLEncodeErrors(t *testing.T) {
	ok := reading.Reading{Device: "m", Channel: "v", Value: 1, Unit: reading.Volt, Time: t0}
	with := func(f func(*reading.Reading)) []reading.Reading {
		r := ok
		f(&r)
		return []reading.Reading{ok, r}
	}
	tests := []struct {
		name string
		in   []reading.Reading
		want string
	}{
		{"none", nil, "no readings"},
		{"NaN", with(func(r *reading.Reading) { r.Value = math.NaN() }), "not finite"},
		{"Inf", with(func(r *reading.Reading) { r.Value = math.Inf(-1) }), "not finite"},
		{"NaN flagged stuck", with(func(r *reading.Reading) { r.Value = math.NaN(); r.Flags = reading.Stuck }), "not finite"},
		{"empty device", with(func(r *reading.Reading) { r.Device = "" }), "empty"},
		{"empty channel", with(func(r *reading.Reading) { r.Channel = "" }), "empty"},
		{"space in channel", with(func(r *reading.Reading) { r.Channel = "a b" }), "invalid character"},
		{"device starts with dash", with(func(r *reading.Reading) { r.Device = "-m" }), "start with"},
		{"non-ASCII", with(func(r *reading.Reading) { r.Channel = "é" }), "invalid character"},
		{"no time", with(func(r *reading.Reading) { r.Time = time.Time{} }), "no time"},
		{"far time", with(func(r *reading.Reading) { r.Time = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) }), "out of range"},
		{"bad unit", with(func(r *reading.Reading) { r.Unit = "\xff" }), "UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EncodeSenML(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSenMLDecodeErrors(t *testing.T) {
	em, _ := cbor.CoreDetEncOptions().EncMode()
	enc := func(v any) []byte {
		b, err := em.Marshal(v)
		must.NoError(t, err)
		return b
	}
	rec := func(kv ...any) map[any]any {
		m := map[any]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	base := []any{-2, "m:", -3, 1700000000}
	good := enc([]any{rec(append(base, 0, "v", 2, 1.5)...)})
	if _, err := DecodeSenML(good); err != nil {
		t.Fatalf("good pack rejected: %v", err)
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "EOF"},
		{"empty pack", enc([]any{}), "empty pack"},
		{"not array", enc(1), "cannot unmarshal"},
		{"trailing", append(bytes.Clone(good), 0), "extraneous"},
		{"no value", enc([]any{rec(append(base, 0, "v")...)}), "no value"},
		{"no value, flagged stuck", enc([]any{rec(append(base, 0, "v", "q", 2)...)}), "no value"},
		{"no name", enc([]any{rec(append(base, 2, 1)...)}), "no name"},
		{"no base name", enc([]any{rec(-3, 1, 0, "v", 2, 1)}), "base name"},
		{"base name without colon", enc([]any{rec(-2, "m", -3, 1, 0, "v", 2, 1)}), "base name"},
		{"empty device", enc([]any{rec(-2, ":", -3, 1, 0, "v", 2, 1)}), "empty"},
		{"no base time", enc([]any{rec(-2, "m:", 0, "v", 2, 1)}), "base time"},
		{"bad name", enc([]any{rec(append(base, 0, "a b", 2, 1)...)}), "invalid character"},
		{"must-understand", enc([]any{rec(append(base, 0, "v", 2, 1, "foo_", 1)...)}), "must-understand"},
		{"base value", enc([]any{rec(append(base, 0, "v", 2, 1, -5, 1)...)}), "base value"},
		{"name not text", enc([]any{rec(append(base, 0, 5, 2, 1)...)}), "text string expected"},
		{"base unit null", enc([]any{rec(append(base, 0, "v", 2, 1, -4, nil)...)}), "text string expected"},
		{"unit null", enc([]any{rec(append(base, 0, "v", 2, 1, 1, nil)...)}), "text string expected"},
		{"value not number", enc([]any{rec(append(base, 0, "v", 2, "1")...)}), "number expected"},
		{"value NaN", enc([]any{rec(append(base, 0, "v", 2, math.NaN())...)}), "not finite"},
		{"value Inf", enc([]any{rec(append(base, 0, "v", 2, math.Inf(1))...)}), "not finite"},
		{"time NaN", enc([]any{rec(append(base, 0, "v", 2, 1, 6, math.NaN())...)}), "out of range"},
		{"time huge", enc([]any{rec(append(base, 0, "v", 2, 1, 6, 1e300)...)}), "out of range"},
		{"flags too big", enc([]any{rec(append(base, 0, "v", 2, 1, "q", 70000)...)}), "out of range"},
		{"flags negative", enc([]any{rec(append(base, 0, "v", 2, 1, "q", -1)...)}), "unsigned integer expected"},
		{"flags null", enc([]any{rec(append(base, 0, "v", 2, 1, "q", nil)...)}), "unsigned integer expected"},
		{"value null", enc([]any{rec(append(base, 0, "v", 2, nil)...)}), "number expected"},
		{"byte string label", enc([]any{rec(append(base, 0, "v", 2, 1, cbor.ByteString("\x01"), 1)...)}), "label of type"},
		{"duplicate label", []byte{0x81, 0xa5, 0x00, 0x61, 'v', 0x00, 0x61, 'w', 0x02, 0x01, 0x21, 0x62, 'm', ':', 0x22, 0x01}, "duplicate"},
		{"indefinite", []byte{0x9f, 0xff}, "indefinite"},
		{"tag", []byte{0xc1, 0x80}, "tag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeSenML(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// Unknown labels that are not must-understand are ignored, u overrides bu,
	// integer values are accepted.
	rs, err := DecodeSenML(enc([]any{rec(append(base, 0, "v", 2, 3, -4, "V", 1, "A", "x", 1, 99, 1)...)}))
	if err != nil || len(rs) != 1 || rs[0].Unit != "A" || rs[0].Value != 3 {
		t.Fatalf("got %+v, %v", rs, err)
	}
}

// FuzzDecodeSenML checks that DecodeSenML never panics and that what it
// accepts and can re-encode round-trips.
func FuzzDecodeSenML(f *testing.F) {
	for k := range 3 {
		b, err := EncodeSenML(meterPoll("m", k))
		must.NoError(f, err)
		f.Add(b)
	}
	b, _ := EncodeSenML([]reading.Reading{
		{Device: "a", Channel: "x", Value: 0.1, Time: t0.Add(1500 * time.Millisecond), Flags: reading.Stuck},
		{Device: "b", Channel: "y", Time: t0, Unit: reading.Volt, Flags: reading.ReadError},
	})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := DecodeSenML(data)
		if err != nil {
			return
		}
		b, err := EncodeSenML(rs)
		if err != nil {
			return // e.g. u overriding bu, or times out of the encoder's range
		}
		rs2, err := DecodeSenML(b)
		if err != nil {
			t.Fatalf("re-encoded pack rejected: %v", err)
		}
		sameReadings(t, rs2, rs)
	})
}
