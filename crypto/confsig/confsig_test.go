package confsig

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
)

func TestRoundTrip(t *testing.T) {
	key := newKey(t)
	trust := NewOpsTrust(key.Public())
	nb, exp := t0.Add(-time.Hour), t0.Add(time.Hour)
	doc, err := Sign(key, 7, ForGateway("gw-001"), nb, exp, cfgYAML("gw-001", 7))
	must.NoError(t, err)
	d, err := Policy{GatewayID: "gw-001", Running: 6, Now: t0}.Verify(doc, trust)
	must.NoError(t, err)
	// The configuration comes back byte for byte, comments and all.
	want := cfgYAML("gw-001", 7)
	switch {
	case d.Version != 7, d.Target.String() != "gateway gw-001", !d.NotBefore.Equal(nb), !d.Expires.Equal(exp):
		t.Errorf("document = %+v", d)
	case !bytes.Equal(d.Config, want), d.Digest != sha256.Sum256(want):
		t.Errorf("config = %q, want %q", d.Config, want)
	case d.KeyID != key.Public().KID():
		t.Errorf("document = %+v", d)
	}
	// Signing is deterministic.
	again, _ := Sign(key, 7, ForGateway("gw-001"), nb, exp, cfgYAML("gw-001", 7))
	if !bytes.Equal(doc, again) {
		t.Error("signing the same input twice gave different documents")
	}
	// Tagged COSE_Sign1.
	if doc[0] != 0xd2 {
		t.Errorf("document starts with %#x, want tag 18 (0xd2)", doc[0])
	}
}

func TestEveryByteFlippedIsRejected(t *testing.T) {
	key := newKey(t)
	trust := NewOpsTrust(key.Public())
	doc := mustSign(t, key, 3, ForGateway("gw-001"), "gw-001")
	if _, err := (Policy{GatewayID: "gw-001", Now: t0}).Verify(doc, trust); err != nil {
		t.Fatal(err)
	}
	for i := range doc {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(doc)
			bad[i] ^= mask
			_, err := Policy{GatewayID: "gw-001", Now: t0}.Verify(bad, trust)
			var re *RejectError
			if !errors.As(err, &re) {
				t.Fatalf("byte %d ^ %#x: err = %v, want a rejection", i, mask, err)
			}
		}
	}
	for n := range len(doc) {
		if _, err := (Policy{GatewayID: "gw-001", Now: t0}).Verify(doc[:n], trust); err == nil {
			t.Fatalf("document truncated to %d bytes accepted", n)
		}
	}
	if _, err := (Policy{GatewayID: "gw-001", Now: t0}).Verify(append(bytes.Clone(doc), 0), trust); err == nil {
		t.Fatal("document with a trailing byte accepted")
	}
}

func TestSignatureAndKeys(t *testing.T) {
	key, other := newKey(t), newKey(t)
	doc := mustSign(t, key, 1, ForGateway("gw-001"), "gw-001")

	_, err := Policy{GatewayID: "gw-001", Now: t0}.Verify(doc, NewOpsTrust(other.Public()))
	wantReject(t, err, ReasonUntrustedKey, key.Public().KID().String())

	// A trust set that maps the signer's key id to another key.
	_, err = Policy{GatewayID: "gw-001", Now: t0}.Verify(doc, OpsTrust{key.Public().KID(): other.Public()})
	wantReject(t, err, ReasonBadSignature, "")

	// Several pinned keys: either signs.
	both := NewOpsTrust(other.Public(), key.Public())
	if _, err := (Policy{GatewayID: "gw-001", Now: t0}).Verify(doc, both); err != nil {
		t.Fatal(err)
	}
	if _, err := (Policy{GatewayID: "gw-001", Now: t0}).Verify(doc, nil); err == nil {
		t.Fatal("accepted with no pinned key")
	}
	if _, err := Sign(nil, 1, ForGateway("gw-001"), time.Time{}, time.Time{}, cfgYAML("gw-001", 1)); err == nil {
		t.Fatal("signed without a key")
	}
}

func TestTargets(t *testing.T) {
	key := newKey(t)
	trust := NewOpsTrust(key.Public())
	list := mustSign(t, key, 2, ForGateways("gw-003", "gw-001", "gw-002", "gw-001"), "gw-002")
	group := mustSign(t, key, 2, ForGroup("north"), "gw-002")
	single := mustSign(t, key, 2, ForGateway("gw-002"), "gw-002")
	tests := []struct {
		name      string
		doc       []byte
		id, group string
		reason    string // empty: accepted
		substr    string
	}{
		{"gateway ok", single, "gw-002", "", "", ""},
		{"gateway other", single, "gw-001", "", ReasonNotForThisGateway, "target is gateway gw-002, not gateway gw-001"},
		{"list ok", list, "gw-002", "", "", ""},
		{"list ok with group", list, "gw-002", "south", "", ""},
		{"list not in it", list, "gw-004", "", ReasonNotForThisGateway, "list of 3 gateways (gw-001, gw-002, gw-003)"},
		{"group ok", group, "gw-002", "north", "", ""},
		{"group other", group, "gw-002", "south", ReasonNotForThisGateway, "target is group north, not gateway gw-002 (group south)"},
		{"group none", group, "gw-002", "", ReasonNotForThisGateway, "group north"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Policy{GatewayID: tt.id, Group: tt.group, Now: t0}.Verify(tt.doc, trust)
			if tt.reason == "" {
				must.NoError(t, err)
				return
			}
			if d != nil {
				t.Error("document returned with an error")
			}
			wantReject(t, err, tt.reason, tt.substr)
		})
	}
	d, err := Policy{GatewayID: "gw-002", Now: t0}.Verify(list, trust)
	must.NoError(t, err)
	if got := strings.Join(d.Target.IDs, ","); d.Target.Kind != KindList || got != "gw-001,gw-002,gw-003" {
		t.Errorf("list target = %+v, want sorted unique ids", d.Target)
	}
}

func TestReplayAndDowngrade(t *testing.T) {
	key := newKey(t)
	trust := NewOpsTrust(key.Public())
	doc := mustSign(t, key, 5, ForGateway("gw-001"), "gw-001")
	if _, err := (Policy{GatewayID: "gw-001", Running: 4, Now: t0}).Verify(doc, trust); err != nil {
		t.Fatal(err)
	}
	_, err := Policy{GatewayID: "gw-001", Running: 5, Now: t0}.Verify(doc, trust)
	wantReject(t, err, ReasonNotNewer, "version 5 is not newer than running version 5")
	_, err = Policy{GatewayID: "gw-001", Running: 9, Now: t0}.Verify(doc, trust)
	wantReject(t, err, ReasonNotNewer, "running version 9")
}

func TestValidityWindow(t *testing.T) {
	key := newKey(t)
	trust := NewOpsTrust(key.Public())
	nb, exp := t0, t0.Add(24*time.Hour)
	doc, err := Sign(key, 1, ForGateway("gw-001"), nb, exp, cfgYAML("gw-001", 1))
	must.NoError(t, err)
	tests := []struct {
		now    time.Time
		reason string
	}{
		{t0.Add(-time.Second), ReasonNotYetValid},
		{t0, ""},
		{exp.Add(-time.Second), ""},
		{exp, ReasonExpired},
		{exp.Add(time.Hour), ReasonExpired},
	}
	for _, tt := range tests {
		_, err := Policy{GatewayID: "gw-001", Now: tt.now}.Verify(doc, trust)
		if tt.reason == "" {
			if err != nil {
				t.Errorf("at %s: %v", tt.now, err)
			}
			continue
		}
		wantReject(t, err, tt.reason, "2026-03-")
	}
	// Only an expiry; only a not-before.
	onlyExp, _ := Sign(key, 1, ForGateway("gw-001"), time.Time{}, exp, cfgYAML("gw-001", 1))
	if _, err := (Policy{GatewayID: "gw-001", Now: time.Unix(1, 0)}).Verify(onlyExp, trust); err != nil {
		t.Error(err)
	}
	onlyNB, _ := Sign(key, 1, ForGateway("gw-001"), nb, time.Time{}, cfgYAML("gw-001", 1))
	if _, err := (Policy{GatewayID: "gw-001", Now: t0.AddDate(50, 0, 0)}).Verify(onlyNB, trust); err != nil {
		t.Error(err)
	}
}

func TestSignRefuses(t *testing.T) {
	key := newKey(t)
	tests := []struct {
		name     string
		version  uint64
		target   Target
		nb, exp  time.Time
		yaml     []byte
		wantErrs string
	}{
		{"no configuration", 1, ForGateway("gw-001"), time.Time{}, time.Time{}, nil, "the configuration is 0 bytes"},
		{"configuration too large", 1, ForGateway("gw-001"), time.Time{}, time.Time{}, make([]byte, MaxConfigSize+1), "want 1 to 1048576"},
		{"no target", 1, Target{}, time.Time{}, time.Time{}, cfgYAML("gw-001", 1), `unknown kind ""`},
		{"empty list", 1, ForGateways(), time.Time{}, time.Time{}, cfgYAML("gw-001", 1), "a list target has 1 to"},
		{"bad group", 1, ForGroup("North/1"), time.Time{}, time.Time{}, cfgYAML("gw-001", 1), `group "North/1"`},
		{"bad kind", 1, Target{Kind: "all"}, time.Time{}, time.Time{}, cfgYAML("gw-001", 1), `unknown kind "all"`},
		{"bad id", 1, ForGateway("GW 1"), time.Time{}, time.Time{}, cfgYAML("gw-001", 1), `gateway id "GW 1"`},
		{"expiry before not-before", 1, ForGateway("gw-001"), t0, t0.Add(-time.Minute), cfgYAML("gw-001", 1), "is not after not-before"},
		{"not-before before 1970", 1, ForGateway("gw-001"), time.Unix(-5, 0), time.Time{}, cfgYAML("gw-001", 1), "not after 1970"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Sign(key, tt.version, tt.target, tt.nb, tt.exp, tt.yaml)
			if err == nil || doc != nil {
				t.Fatalf("signed: %x", doc)
			}
			if !strings.Contains(err.Error(), tt.wantErrs) || !strings.HasPrefix(err.Error(), "sign config: ") {
				t.Fatalf("err = %q, want %q", err, tt.wantErrs)
			}
		})
	}
}

// signRaw signs an arbitrary configuration payload, bypassing Sign's checks,
// as a buggy or foreign signer could.
func signRaw(t *testing.T, key *OpsKey, w wireConfig) []byte {
	t.Helper()
	w.Context = ConfigContext
	payload, err := encMode.Marshal(&w)
	must.NoError(t, err)
	doc, err := signDoc(key, payload)
	must.NoError(t, err)
	return doc
}

func TestVerifySignedButWrong(t *testing.T) {
	key := newKey(t)
	trust := NewOpsTrust(key.Public())
	gw := wireTarget{Kind: KindGateway, IDs: []string{"gw-001"}}
	tests := []struct {
		name   string
		w      wireConfig
		reason string
		substr string
	}{
		{"no configuration", wireConfig{Version: 1, Target: gw}, ReasonMalformed, "configuration is 0 bytes"},
		{"unsorted list", wireConfig{Version: 1, Target: wireTarget{Kind: KindList, IDs: []string{"gw-002", "gw-001"}}, Config: cfgYAML("gw-001", 1)},
			ReasonMalformed, "ascending"},
		{"gateway target with two ids", wireConfig{Version: 1, Target: wireTarget{Kind: KindGateway, IDs: []string{"gw-001", "gw-002"}}, Config: cfgYAML("gw-001", 1)},
			ReasonMalformed, "exactly one id"},
		{"unknown kind", wireConfig{Version: 1, Target: wireTarget{Kind: "everyone"}, Config: cfgYAML("gw-001", 1)},
			ReasonMalformed, "everyone"},
		{"negative not-before", wireConfig{Version: 1, Target: gw, NotBefore: -1, Config: cfgYAML("gw-001", 1)},
			ReasonMalformed, "validity window"},
		{"empty window", wireConfig{Version: 1, Target: gw, NotBefore: 10, Expires: 10, Config: cfgYAML("gw-001", 1)},
			ReasonMalformed, "validity window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := signRaw(t, key, tt.w)
			_, err := Policy{GatewayID: "gw-001", Now: t0}.Verify(doc, trust)
			wantReject(t, err, tt.reason, tt.substr)
		})
	}
	// Whatever the signed bytes say is not read here: a document whose
	// configuration is not even YAML verifies, and the caller parses it.
	doc := signRaw(t, key, wireConfig{Version: 1, Target: gw, Config: []byte("version: 1\ngateway: [\n")})
	if d, err := (Policy{GatewayID: "gw-001", Now: t0}).Verify(doc, trust); err != nil || string(d.Config) != "version: 1\ngateway: [\n" {
		t.Fatalf("Verify = %+v, %v", d, err)
	}
}

func TestNotCanonicalRejected(t *testing.T) {
	key := newKey(t)
	trust := NewOpsTrust(key.Public())
	// A map payload with an extra field, and a non-shortest integer, both
	// signed: well signed but not canonical.
	w := wireConfig{Context: ConfigContext, Version: 1, Target: wireTarget{Kind: KindGateway, IDs: []string{"gw-001"}}, Config: cfgYAML("gw-001", 1)}
	payload, _ := encMode.Marshal(&w)
	// Version 1 is encoded as 0x01 right after the context string; make it 0x18 0x01.
	i := bytes.Index(payload, []byte(ConfigContext)) + len(ConfigContext)
	long := append(append(bytes.Clone(payload[:i]), 0x18, 0x01), payload[i+1:]...)
	doc, err := signDoc(key, long)
	must.NoError(t, err)
	_, err = Policy{GatewayID: "gw-001", Now: t0}.Verify(doc, trust)
	wantReject(t, err, ReasonMalformed, "")

	// A trust document is not a configuration document, and vice versa.
	tdoc, err := SignTrust(key, 1, ForGateway("gw-001"), time.Time{}, time.Time{}, trust)
	must.NoError(t, err)
	_, err = Policy{GatewayID: "gw-001", Now: t0}.Verify(tdoc, trust)
	wantReject(t, err, ReasonMalformed, "not an edgegw config v1 document")
	cdoc := mustSign(t, key, 1, ForGateway("gw-001"), "gw-001")
	_, err = Policy{GatewayID: "gw-001", Now: t0}.VerifyTrust(cdoc, trust)
	wantReject(t, err, ReasonMalformed, "not an edgegw ops trust v1 document")

	// Oversized input is rejected before parsing.
	_, err = Policy{GatewayID: "gw-001", Now: t0}.Verify(make([]byte, MaxDocumentSize+1), trust)
	wantReject(t, err, ReasonMalformed, "more than")
}

func TestRejectErrorUnwraps(t *testing.T) {
	key := newKey(t)
	doc := mustSign(t, key, 1, ForGateway("gw-001"), "gw-001")
	_, err := Policy{GatewayID: "gw-001", Now: t0.Add(time.Hour)}.Verify(doc, NewOpsTrust(key.Public()))
	must.NoError(t, err)
	_, err = Policy{GatewayID: "gw-001", Running: 3, Now: t0}.Verify(doc, NewOpsTrust(key.Public()))
	var re *RejectError
	if !errors.As(err, &re) || re.Unwrap() == nil || re.Unwrap().Error() != "version 1 is not newer than running version 3" {
		t.Fatalf("err = %v, want a *RejectError wrapping its cause", err)
	}
	if !strings.HasPrefix(err.Error(), "config rejected: not-newer: version 1") {
		t.Errorf("err = %q", err)
	}
}

func TestKind(t *testing.T) {
	key := newKey(t)
	trust := NewOpsTrust(key.Public())
	doc := mustSign(t, key, 1, ForGateway("gw-007"), "gw-007")
	tdoc, _ := SignTrust(key, 1, ForGroup("north"), time.Time{}, time.Time{}, trust)
	for _, tt := range []struct {
		doc  []byte
		want string
	}{{doc, DocConfig}, {tdoc, DocTrust}, {[]byte("version: 1\n"), ""}, {nil, ""}} {
		if got := Kind(tt.doc); got != tt.want {
			t.Errorf("Kind(%.8x) = %q, want %q", tt.doc, got, tt.want)
		}
	}
}

func TestInspect(t *testing.T) {
	key := newKey(t)
	doc, err := Sign(key, 4, ForGateways("gw-001"), time.Time{}, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), cfgYAML("gw-001", 4))
	must.NoError(t, err)
	h, err := Inspect(doc)
	must.NoError(t, err)
	if h.Kind != DocConfig || h.Version != 4 || !bytes.Equal(h.Config, cfgYAML("gw-001", 4)) || !h.Target.Includes("gw-001", "") || h.Expires.Year() != 2027 || !h.NotBefore.IsZero() {
		t.Errorf("Inspect = %+v", h)
	}
	if _, err := Inspect([]byte("not a document")); err == nil {
		t.Error("Inspect accepted garbage")
	}
}
