package ptypair

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/edgegw/edgegw/internal/must"
)

func TestRawBothWays(t *testing.T) {
	p, err := Open()
	must.NoError(t, err)
	defer p.Close()
	client, err := os.OpenFile(p.Path, os.O_RDWR, 0)
	must.NoError(t, err)
	defer client.Close()
	// Bytes a line discipline would mangle: CR, NL, ^C, 0xFF.
	frame := []byte{0x01, 0x0d, 0x0a, 0x03, 0xff, 0x00}
	if _, err := client.Write(frame); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(frame))
	if _, err := io.ReadFull(p.Master, got); err != nil || !bytes.Equal(got, frame) {
		t.Fatalf("master read % x, %v; want % x", got, err, frame)
	}
	if _, err := p.Master.Write(frame); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, frame) {
		t.Fatalf("client read % x, %v; want % x", got, err, frame)
	}
}
