package reading_test

import (
	"testing"

	"github.com/edgegw/edgegw/drivers/reading"
)

func TestFlagsNames(t *testing.T) {
	tests := []struct {
		name string
		f    reading.Flags
		want string
	}{
		{"ok", 0, "ok"},
		{"one", reading.Stuck, "stuck"},
		{"several in fixed order", reading.ReadError | reading.OutOfRange | reading.ClockUnsynced, "out-of-range|clock-unsynced|read-error"},
		{"unknown bit", 1 << 12, "unknown"},
		{"humid and warming up", reading.Humid | reading.WarmingUp, "humid|warming-up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.String(); got != tt.want {
				t.Errorf("Flags(%d).String() = %q, want %q", tt.f, got, tt.want)
			}
		})
	}
}
