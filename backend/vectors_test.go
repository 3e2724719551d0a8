package backend_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/envelope/envelopetest"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/internal/must"
)

// specPath is the envelope specification, whose vectors `edgegw open` must
// open exactly as documented.
const specPath = "../docs/envelope.md"

// specVectors returns the documented envelope vectors (without the manifest),
// the documented manifest, and an Opener holding their identities and keys.
func specVectors(t *testing.T) (envs []*envelopetest.Vector, manifest *envelopetest.Vector, o backend.Opener) {
	o.Trust = envelope.Trust{}
	for _, v := range envelopetest.Read(t, specPath, envelopetest.EnvelopeBegin, envelopetest.EnvelopeEnd) {
		pub, err := keys.ParsePublicIdentity(v.One(t, "identity_line"))
		must.NoError(t, err)
		o.Trust[pub.ID] = pub
		if v.Name() == "manifest" {
			manifest = v
			continue
		}
		envs = append(envs, v)
		if v.All("recipient_ikm") == nil {
			continue
		}
		var s keys.Suite
		if _, err := fmt.Sscanf(v.One(t, "suite"), "%d", &s); err != nil {
			t.Fatal(err)
		}
		k, err := s.KEM().DeriveKeyPair(v.Hex(t, "recipient_ikm"))
		must.NoError(t, err)
		rk, err := keys.NewRecipientPrivate(s, k)
		must.NoError(t, err)
		o.Keys = append(o.Keys, rk)
	}
	if manifest == nil || len(envs) == 0 {
		t.Fatalf("%s: no envelope or manifest vector", specPath)
	}
	return envs, manifest, o
}

// TestSpecVectors opens every envelope vector of docs/envelope.md, received
// on its documented topic, with the Opener that `edgegw open` and `edgegw
// ingest` share: the readings print exactly as the documented lines, gap and
// audit records hold the documented content, and the same envelope on another
// topic is rejected with reason topic-mismatch.
func TestSpecVectors(t *testing.T) {
	envs, _, o := specVectors(t)
	for _, v := range envs {
		t.Run(v.Name(), func(t *testing.T) {
			topic := v.One(t, "topic")
			res, err := o.Open(topic, v.Hex(t, "wire"))
			must.NoError(t, err)
			switch {
			case res.Gap != nil:
				g := res.Gap
				if s := fmt.Sprintf("%d %d %d %d %s", g.FromSeq, g.ToSeq, g.Batches, g.Readings, g.Reason); s != v.One(t, "gap") {
					t.Errorf("gap %q, documented %q", s, v.One(t, "gap"))
				}
			case res.Audit != nil:
				if string(res.Audit) != v.One(t, "audit") {
					t.Errorf("audit %s, documented %s", res.Audit, v.One(t, "audit"))
				}
			default:
				var lines []string
				for _, r := range res.Records() {
					j, err := json.Marshal(r)
					must.NoError(t, err)
					lines = append(lines, string(j))
				}
				if got, want := strings.Join(lines, "\n"), strings.Join(v.All("reading"), "\n"); got != want {
					t.Errorf("open prints:\n%s\ndocumented:\n%s", got, want)
				}
			}
			for _, wrong := range []string{
				strings.Replace(topic, "gw-0001", "gw-0002", 1),
				"city/gw-0001/data/audit",
				"city/gw-0001/data/other",
				"gw-0001/audit",
			} {
				if wrong == topic {
					continue
				}
				if _, err := o.Open(wrong, v.Hex(t, "wire")); backend.Reason(err) != envelope.ReasonTopicMismatch {
					t.Errorf("on topic %q: %v, want %s", wrong, err, envelope.ReasonTopicMismatch)
				}
			}
		})
	}
}

// TestSpecExport runs `edgegw open --dir` on a buffer export made of the
// documented envelopes and the documented manifest: it prints exactly the
// documented reading lines and finds the export complete.
func TestSpecExport(t *testing.T) {
	envs, manifest, o := specVectors(t)
	dir, err := backend.NewExportDir(t.TempDir(), "gw-0001", "spec")
	must.NoError(t, err)
	var want []string
	for _, v := range envs {
		e, err := envelope.Parse(v.Hex(t, "wire"))
		must.NoError(t, err)
		must.NoError(t, dir.Add(e.Header.Seq, e.Header.Class, v.Hex(t, "wire")))
		want = append(want, v.All("reading")...)
		want = append(want, recordLines(t, e.Header, v)...)
	}
	if _, err := dir.Finish(manifest.Hex(t, "manifest")); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	r := backend.NewReceiver(o.Trust, o.Keys...)
	if _, err := backend.Open(context.Background(), r, backend.Options{Dirs: []string{dir.Path}}, &out, &errOut); err != nil {
		t.Fatalf("open --dir: %v\n%s", err, errOut.String())
	}
	if got := strings.TrimSuffix(out.String(), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("open --dir prints:\n%s\ndocumented:\n%s", got, strings.Join(want, "\n"))
	}
}

// recordLines returns the lines docs/envelope.md says `edgegw open` prints
// for the gap or audit record of vector v, whose header is h: the
// documented gap fields or audit JSON, with kind, gateway and seq.
func recordLines(t *testing.T, h envelope.Header, v *envelopetest.Vector) []string {
	t.Helper()
	var line any
	switch {
	case v.All("gap") != nil:
		g := backend.GapLine{Kind: "gap", Gateway: h.GatewayID, Seq: h.Seq}
		if _, err := fmt.Sscanf(v.One(t, "gap"), "%d %d %d %d %s", &g.FromSeq, &g.ToSeq, &g.Batches, &g.Readings, &g.Reason); err != nil {
			t.Fatal(err)
		}
		line = g
	case v.All("audit") != nil:
		line = backend.AuditLine{Kind: "audit", Gateway: h.GatewayID, Seq: h.Seq, Created: h.Created.UTC().Format(time.RFC3339), Record: json.RawMessage(v.One(t, "audit"))}
	default:
		return nil
	}
	j, err := json.Marshal(line)
	must.NoError(t, err)
	return []string{string(j)}
}
