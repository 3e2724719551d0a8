package sensirion

import (
	"bytes"
	"errors"
	"testing"

	"github.com/edgegw/edgegw/internal/must"
)

func TestCRC8(t *testing.T) {
	tests := []struct {
		in   []byte
		want byte
	}{
		{[]byte{0xBE, 0xEF}, 0x92}, // datasheet test vector
		{[]byte{0x01, 0xF4}, 0x33},
		{[]byte{0x66, 0x67}, 0xA2},
		{[]byte{0x5E, 0xB9}, 0x3C},
		{[]byte{0x03, 0x00}, 0xAC},
		{[]byte{0x05, 0x00}, 0xF6},
		{[]byte{0x00, 0x01}, 0xB0},
		{[]byte{0x00, 0x00}, 0x81},
	}
	for _, tt := range tests {
		if got := CRC8(tt.in); got != tt.want {
			t.Errorf("CRC8(% x) = 0x%02x, want 0x%02x", tt.in, got, tt.want)
		}
	}
}

func TestCommand(t *testing.T) {
	if got, want := Command(0x0010, 0x0300), []byte{0x00, 0x10, 0x03, 0x00, 0xAC}; !bytes.Equal(got, want) {
		t.Errorf("Command(0x0010, 0x0300) = % x, want % x", got, want)
	}
	if got, want := Command(0xEC05), []byte{0xEC, 0x05}; !bytes.Equal(got, want) {
		t.Errorf("Command(0xEC05) = % x, want % x", got, want)
	}
}

func TestWords(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    []uint16
		wantErr string
	}{
		{"scd4x reply", []byte{0x01, 0xF4, 0x33, 0x66, 0x67, 0xA2, 0x5E, 0xB9, 0x3C}, []uint16{500, 0x6667, 0x5EB9}, ""},
		{"bad crc", []byte{0x01, 0xF4, 0x33, 0x66, 0x67, 0xA3}, nil, "word 1 (66 67): crc mismatch: got 0xa3, want 0xa2"},
		{"short", []byte{0x01, 0xF4}, nil, "not a multiple of 3"},
		{"empty", nil, []uint16{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Words(tt.in)
			if tt.wantErr != "" {
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.wantErr)) {
					t.Fatalf("Words(% x) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			must.NoError(t, err)
			if len(got) != len(tt.want) {
				t.Fatalf("Words = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("Words = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// FuzzWords checks that a decoded frame re-encodes to the same bytes and
// that any frame with a wrong CRC is refused with ErrCRC.
func FuzzWords(f *testing.F) {
	f.Add([]byte{0x01, 0xF4, 0x33, 0x66, 0x67, 0xA2, 0x5E, 0xB9, 0x3C})
	f.Add([]byte{0xBE, 0xEF, 0x92})
	f.Add([]byte{0xBE, 0xEF, 0x93})
	f.Fuzz(func(t *testing.T, b []byte) {
		ws, err := Words(b)
		if err != nil {
			if len(b)%3 == 0 && !errors.Is(err, ErrCRC) {
				t.Fatalf("Words(% x): %v is not ErrCRC", b, err)
			}
			return
		}
		if got := AppendWords(nil, ws...); !bytes.Equal(got, b) {
			t.Fatalf("AppendWords(Words(% x)) = % x", b, got)
		}
	})
}
