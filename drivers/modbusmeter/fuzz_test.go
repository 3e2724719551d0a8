package modbusmeter_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/drivers/modbusmeter"
	"github.com/edgegw/edgegw/internal/must"
)

// replay is a transporter that answers every request with one frame.
type replay struct{ reply []byte }

func (r *replay) Send([]byte) ([]byte, error) { return r.reply, nil }

// FuzzResponse feeds arbitrary reply frames through goburrow's RTU
// packager and the driver's register and value decoding: nothing may
// panic, every error must be classified, and data must have the requested
// length.
func FuzzResponse(f *testing.F) {
	file, err := os.Open("testdata/frames.txt")
	must.NoError(f, err)
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		b, err := hex.DecodeString(strings.ReplaceAll(line, " ", ""))
		must.NoError(f, err)
		f.Add(b, uint8(2), uint8(0), uint8(4))
	}
	file.Close()
	tr := &replay{}
	bus, err := modbusmeter.OpenBus("mem:fuzz", modbusmeter.LineConfig{Transporter: tr})
	must.NoError(f, err)
	types := []modbusmeter.Type{modbusmeter.Uint16, modbusmeter.Int16, modbusmeter.Uint32, modbusmeter.Int32, modbusmeter.Float32, modbusmeter.Uint64, modbusmeter.Int64}
	f.Fuzz(func(t *testing.T, reply []byte, count, typ, order uint8) {
		tr.reply = reply
		n := uint16(count%8) + 1
		regs, err := bus.ReadRegisters(context.Background(), 1, modbusmeter.ReadInput, 0, n)
		if err != nil {
			var ex *modbusmeter.ExceptionError
			if !errors.Is(err, modbusmeter.ErrCRC) && !errors.Is(err, modbusmeter.ErrFrame) && !errors.Is(err, modbusmeter.ErrTimeout) && !errors.As(err, &ex) &&
				!strings.Contains(err.Error(), "length") && !strings.Contains(err.Error(), "EOF") {
				t.Fatalf("unclassified error %v for % x", err, reply)
			}
			return
		}
		if len(regs) != int(n) {
			t.Fatalf("%d registers for %d", len(regs), n)
		}
		pt := modbusmeter.Point{Type: types[int(typ)%len(types)], Order: modbusmeter.Orders[int(order)%4], Scale: 1}
		v, err := pt.Decode(regs)
		if len(regs) < pt.Type.Words() {
			if err == nil {
				t.Fatal("short registers decoded")
			}
			return
		}
		bits, _ := modbusmeter.Raw(pt.Type, pt.Order, regs)
		back, _ := modbusmeter.Encode(pt.Type, pt.Order, bits)
		for i := range back {
			if back[i] != regs[i] {
				t.Fatalf("Encode(Raw(%04X)) = %04X", regs, back)
			}
		}
		_ = v
	})
}
