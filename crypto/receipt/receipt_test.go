package receipt_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/crypto/receipt"
	"github.com/edgegw/edgegw/internal/must"
)

func identity(t *testing.T, id string) *keys.Identity {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	must.NoError(t, err)
	return &keys.Identity{ID: id, Key: k}
}

func TestSignVerify(t *testing.T) {
	ingest := identity(t, "ingest-1")
	other := identity(t, "ingest-2")
	now := time.UnixMilli(1_790_000_000_123).UTC()
	r := receipt.Receipt{Gateway: "gw-001", Through: 41, Ranges: [][2]uint64{{43, 50}, {60, 60}}, Time: now}
	data, err := receipt.Sign(ingest, r)
	must.NoError(t, err)
	pinned := []keys.PublicIdentity{other.Public(), ingest.Public()}
	got, err := receipt.Verify(data, "gw-001", pinned)
	must.NoError(t, err)
	if got.Through != 41 || !slices.Equal(got.Ranges, r.Ranges) || !got.Time.Equal(now) || got.Signer != "ingest-1" {
		t.Fatalf("got %+v", got)
	}
	for seq, want := range map[uint64]bool{0: false, 1: true, 41: true, 42: false, 43: true, 50: true, 51: false, 60: true, 61: false} {
		if got.Covers(seq) != want {
			t.Errorf("Covers(%d) = %v", seq, !want)
		}
	}
	if got.Highest() != 60 {
		t.Errorf("Highest = %d", got.Highest())
	}

	if _, err := receipt.Verify(data, "gw-002", pinned); !errors.Is(err, receipt.ErrForeign) {
		t.Errorf("other gateway: %v", err)
	}
	if _, err := receipt.Verify(data, "gw-001", []keys.PublicIdentity{other.Public()}); !errors.Is(err, receipt.ErrUntrusted) {
		t.Errorf("unpinned signer: %v", err)
	}
	// A forger who copies the pinned key id but signs with their own key.
	fdata, err := receipt.Sign(&keys.Identity{ID: "x", Key: other.Key}, r)
	must.NoError(t, err)
	if _, err := receipt.Verify(fdata, "gw-001", []keys.PublicIdentity{ingest.Public()}); !errors.Is(err, receipt.ErrUntrusted) {
		t.Errorf("forged: %v", err)
	}
	flipped := slices.Clone(data)
	flipped[len(flipped)-70] ^= 1
	if _, err := receipt.Verify(flipped, "gw-001", pinned); err == nil {
		t.Error("altered receipt verified")
	}
	for _, bad := range [][]byte{nil, {0xa0}, make([]byte, 5000)} {
		if _, err := receipt.Verify(bad, "gw-001", pinned); !errors.Is(err, receipt.ErrMalformed) {
			t.Errorf("%d bytes: %v", len(bad), err)
		}
	}
}

func TestSignRefusesBadRanges(t *testing.T) {
	ingest := identity(t, "ingest-1")
	for name, r := range map[string]receipt.Receipt{
		"adjacent to through": {Gateway: "gw-1", Through: 4, Ranges: [][2]uint64{{5, 6}}},
		"reversed":            {Gateway: "gw-1", Ranges: [][2]uint64{{9, 7}}},
		"overlapping":         {Gateway: "gw-1", Ranges: [][2]uint64{{3, 7}, {7, 9}}},
		"touching":            {Gateway: "gw-1", Ranges: [][2]uint64{{3, 7}, {8, 9}}},
		"bad gateway":         {Gateway: "gw/1"},
	} {
		if _, err := receipt.Sign(ingest, r); !errors.Is(err, receipt.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestFromSet(t *testing.T) {
	now := time.Unix(100, 0)
	r := receipt.FromSet("gw-1", [][2]uint64{{1, 10}, {12, 12}, {20, 30}}, now)
	if r.Through != 10 || !slices.Equal(r.Ranges, [][2]uint64{{12, 12}, {20, 30}}) {
		t.Fatalf("got %+v", r)
	}
	if r := receipt.FromSet("gw-1", [][2]uint64{{3, 10}}, now); r.Through != 0 || len(r.Ranges) != 1 {
		t.Fatalf("no run from 1: %+v", r)
	}
	// More runs than fit: the newest, plus the ones asked for.
	var set [][2]uint64
	for i := uint64(0); i < 200; i++ {
		set = append(set, [2]uint64{10 + 3*i, 11 + 3*i})
	}
	r = receipt.FromSet("gw-1", set, now, 13, 14)
	if len(r.Ranges) != receipt.MaxRanges || !r.Covers(13) || !r.Covers(11+3*199) || r.Covers(16) {
		t.Fatalf("%d ranges, covers 13 %v, newest %v, 16 %v", len(r.Ranges), r.Covers(13), r.Covers(11+3*199), r.Covers(16))
	}
	if _, err := receipt.Sign(identity(t, "ingest-1"), r); err != nil {
		t.Fatalf("FromSet made an unsignable receipt: %v", err)
	}
}

func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	a, b := identity(t, "ingest-b"), identity(t, "ingest-a")
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		must.NoError(t, os.WriteFile(path, []byte(text), 0o644))
		return path
	}
	one := write("one.pub", a.Public().String()+"\n")
	two := write("two.pub", "# ingest replicas\n\n"+b.Public().String()+"\n")
	got, err := receipt.LoadKeys(one, two)
	must.NoError(t, err)
	if len(got) != 2 || got[0].ID != "ingest-a" || got[1].ID != "ingest-b" || !got[1].Key.Equal(a.Public().Key) {
		t.Fatalf("got %v", got)
	}
	for name, c := range map[string]struct{ text, want string }{
		"bad.pub":   {"# first\n" + a.Public().String() + "\nedgegw-ed25519 AAAA ingest-c\n", "bad.pub:3:"},
		"empty.pub": {"# nothing here\n", "empty.pub: no public identity line"},
	} {
		if _, err := receipt.LoadKeys(one, write(name, c.text)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
	if _, err := receipt.LoadKeys(filepath.Join(dir, "none.pub")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
