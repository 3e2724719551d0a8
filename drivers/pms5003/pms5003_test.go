package pms5003_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/pms5003"
	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/drivers/sim/chips"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/testclock"
)

// datasheetFrame is the worked example: PM2.5 atmospheric 8 ug/m3, >0.3 um 1104.
var datasheetFrame = []byte{0x42, 0x4D, 0x00, 0x1C, 0x00, 0x05, 0x00, 0x08, 0x00, 0x09, 0x00, 0x05, 0x00, 0x08, 0x00, 0x09, 0x04, 0x50, 0x01, 0x46, 0x00, 0x3E, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x97, 0x00, 0x02, 0x4B}

func TestDecode(t *testing.T) {
	f, err := pms5003.Decode(datasheetFrame)
	if err != nil || f.Atm != [3]uint16{5, 8, 9} || f.Counts[0] != 1104 {
		t.Fatalf("Decode = %+v, %v", f, err)
	}
	bad := bytes.Clone(datasheetFrame)
	bad[31]++
	if _, err := pms5003.Decode(bad); !errors.Is(err, pms5003.ErrChecksum) {
		t.Errorf("bad checksum: %v", err)
	}
}

// fakePort replies with the queued bytes and records what was written.
type fakePort struct {
	in  bytes.Buffer
	out bytes.Buffer
}

func (p *fakePort) Read(b []byte) (int, error) {
	if p.in.Len() == 0 {
		return 0, errors.New("serial: timeout")
	}
	return p.in.Read(b)
}
func (p *fakePort) Write(b []byte) (int, error) { return p.out.Write(b) }

func TestFakePort(t *testing.T) {
	var clk testclock.Clock
	p := &fakePort{}
	d, _ := pms5003.New(p, &pms5003.Opts{Common: drivers.Common{BusName: "tty", Now: clk.Now}})
	// noise, a command acknowledgement, then the frame
	p.in.Write([]byte{0x00, 0x42, 0x4D, 0x00, 0x04, 0xE1, 0x00, 0x01, 0x74})
	p.in.Write(datasheetFrame)
	rs, err := d.Read(context.Background())
	if err != nil || rs[1].Value != 8 || rs[1].Flags != reading.WarmingUp {
		t.Fatalf("Read = %v, %v", rs, err)
	}
	want := []byte{0x42, 0x4D, 0xE4, 0x00, 0x01, 0x01, 0x74, 0x42, 0x4D, 0xE1, 0x00, 0x00, 0x01, 0x70, 0x42, 0x4D, 0xE2, 0x00, 0x00, 0x01, 0x71}
	if !bytes.Equal(p.out.Bytes(), want) {
		t.Errorf("wrote % x, want % x", p.out.Bytes(), want)
	}
	bad := bytes.Clone(datasheetFrame)
	bad[31]++
	p.in.Write(bad)
	if _, err := d.Read(context.Background()); !errors.Is(err, pms5003.ErrChecksum) || !strings.HasPrefix(err.Error(), "pms5003@tty: ") {
		t.Errorf("bad frame: %v", err)
	}
	if _, err := d.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "no frame: serial: timeout") {
		t.Errorf("silent sensor: %v", err)
	}
}

// TestPTY runs the driver through the factory's serial port against the
// emulator on a pseudo-terminal pair.
func TestPTY(t *testing.T) {
	clk := &testclock.Clock{}
	path, chip, c, err := chips.StartPMS5003(clk.Now)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer c.Close()
	s, err := pms5003.Factory(drivers.Device{Name: "pm", Options: map[string]any{"bus": path, "timeout": "300ms", "stuck_after": 3}}, drivers.Deps{Now: clk.Now, Buses: drivers.NewBusSet()})
	must.NoError(t, err)
	defer s.Halt()
	ctx := context.Background()
	rs, err := s.Read(ctx)
	if err != nil || len(rs) != 3 || rs[1].Value < 5 || rs[1].Value > 40 || rs[1].Flags != reading.WarmingUp {
		t.Fatalf("Read = %v, %v", rs, err)
	}
	chip.CorruptNext(1)
	if _, err := s.Read(ctx); !errors.Is(err, pms5003.ErrChecksum) {
		t.Errorf("corrupted frame: %v", err)
	}
	chip.Unplug()
	if _, err := s.Read(ctx); err == nil || !strings.Contains(err.Error(), "pms5003@"+path+": no frame") {
		t.Errorf("unplugged: %v", err)
	}
	chip.Replug()
	clk.Advance(time.Minute)
	if rs, err = s.Read(ctx); err != nil || rs[1].Flags != reading.WarmingUp {
		t.Errorf("after replug: %v, %v", rs, err)
	}
}

// FuzzDecode checks that only checksum-valid 32-byte frames decode.
func FuzzDecode(f *testing.F) {
	f.Add(datasheetFrame)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := pms5003.Decode(b); err == nil {
			var sum uint16
			for _, v := range b[:30] {
				sum += uint16(v)
			}
			if len(b) != 32 || uint16(b[30])<<8|uint16(b[31]) != sum {
				t.Fatalf("Decode accepted % x", b)
			}
		}
	})
}

var _ io.ReadWriter = (*fakePort)(nil)
