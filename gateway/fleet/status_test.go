package fleet

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
)

func TestStatusRoundTrip(t *testing.T) {
	s := Status{Gateway: "gw-001", Version: 7, Hash: strings.Repeat("ab", 32), State: StateRolledBack,
		Reason: "probation: broker unreachable", Time: time.Date(2026, 3, 1, 12, 0, 5, 0, time.UTC)}
	data, err := json.Marshal(s)
	must.NoError(t, err)
	want := `{"gateway":"gw-001","version":7,"hash":"` + strings.Repeat("ab", 32) +
		`","state":"rolled-back","reason":"probation: broker unreachable","time":"2026-03-01T12:00:05Z"}`
	if string(data) != want {
		t.Errorf("json\n got %s\nwant %s", data, want)
	}
	got, err := ParseStatus(append(data[:len(data)-1:len(data)-1], `,"future":1}`...))
	if err != nil || got != s {
		t.Errorf("ParseStatus = %+v, %v; want %+v (unknown members ignored)", got, err, s)
	}
}

func TestStatusValidate(t *testing.T) {
	ok := Status{Gateway: "gw-001", Version: 1, State: StateCommitted, Time: time.Unix(1, 0)}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid status: %v", err)
	}
	for _, tt := range []struct {
		name   string
		mutate func(*Status)
		want   string
	}{
		{"gateway", func(s *Status) { s.Gateway = "GW/1" }, "gateway"},
		{"state", func(s *Status) { s.State = "done" }, `state "done"`},
		{"hash", func(s *Status) { s.Hash = "ABC" }, "hash"},
		{"rejected without reason", func(s *Status) { s.State = StateRejected }, "without a reason"},
		{"rolled back without reason", func(s *Status) { s.State = StateRolledBack }, "without a reason"},
		{"reason too long", func(s *Status) { s.Reason = strings.Repeat("x", MaxReasonLen+1) }, "reason"},
		{"time", func(s *Status) { s.Time = time.Time{} }, "no time"},
	} {
		s := ok
		tt.mutate(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := ParseStatus([]byte(`{"gateway":"gw-001","version":-1}`)); err == nil {
		t.Error("negative version accepted")
	}
	if _, err := ParseStatus(make([]byte, MaxStatusSize+1)); err == nil {
		t.Error("oversized status accepted")
	}
}

// TestStatusGateway: only a configuration status topic under the prefix,
// of a valid gateway id, names a gateway.
func TestStatusGateway(t *testing.T) {
	for topic, want := range map[string]string{
		"city/gw-001/config/status": "gw-001",
		"city/gw-001/config/set":    "",
		"city/gw-001/health":        "",
		"town/gw-001/config/status": "",
		"city/a/b/config/status":    "",
		"city/GW/config/status":     "",
		"city//config/status":       "",
	} {
		id, ok := statusGateway("city", topic)
		if id != want || ok != (want != "") {
			t.Errorf("statusGateway(%q) = %q, %v; want %q", topic, id, ok, want)
		}
	}
}
