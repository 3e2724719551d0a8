package envelope

import (
	"errors"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
)

func TestAuditRecord(t *testing.T) {
	id := testIdentity(t, "gw-001", 1)
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	h, err := RecordHeader("gw-001", AuditClass, 9, 2, at)
	must.NoError(t, err)
	event := []byte(`{"action":"buffer.flush","uid":1000,"result":"ok"}`)
	tr, err := Sign(id, h, [][]byte{event})
	must.NoError(t, err)
	env, err := Parse(Marshal(h, [][]byte{event}, tr))
	must.NoError(t, err)
	if _, err := env.Audit(); !errors.Is(err, errNotVerified) {
		t.Errorf("Audit before Verify: %v", err)
	}
	must.NoError(t, env.Verify(NewTrust(id.Public())))
	got, err := env.Audit()
	if err != nil || string(got) != string(event) {
		t.Errorf("Audit = %q, %v", got, err)
	}
	if _, err := env.Gap(); err == nil {
		t.Error("an audit record decoded as a gap record")
	}
	if _, err := env.Open(); err == nil {
		t.Error("an audit record opened as readings")
	}
	// Not JSON: rejected even though signed.
	bad := []byte{0xff}
	tr, _ = Sign(id, h, [][]byte{bad})
	env, err = Parse(Marshal(h, [][]byte{bad}, tr))
	if err == nil {
		err = env.Verify(NewTrust(id.Public()))
	}
	must.NoError(t, err)
	if _, err := env.Audit(); reasonOf(err) != ReasonMalformed {
		t.Errorf("Audit of a non-JSON record: %v", err)
	}
}

// reasonOf returns the rejection reason of err, or "".
func reasonOf(err error) string {
	var rej *RejectError
	if errors.As(err, &rej) {
		return rej.Reason
	}
	return ""
}
