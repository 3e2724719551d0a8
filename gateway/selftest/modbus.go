//go:build !custom || drivers.modbusmeter

package selftest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/goburrow/modbus"
)

func init() { driverChecks = append(driverChecks, check{"modbus rtu framing", modbusFraming}) }

// meterReply plays an Eastron meter on the line: it answers the request for
// input registers 0-1 (phase 1 voltage) with 230.0 V as an IEEE 754 float.
type meterReply struct{}

var (
	voltageRequest = []byte{0x01, 0x04, 0x00, 0x00, 0x00, 0x02, 0x71, 0xCB}
	voltageReply   = []byte{0x01, 0x04, 0x04, 0x43, 0x66, 0x00, 0x00, 0x0E, 0x1F}
)

func (meterReply) Send(adu []byte) ([]byte, error) {
	if !bytes.Equal(adu, voltageRequest) {
		return nil, fmt.Errorf("request % x, want % x", adu, voltageRequest)
	}
	return voltageReply, nil
}

// modbusFraming runs the Modbus RTU client against a played meter reply:
// request framing, CRC-16/MODBUS both ways and the register decoding.
func modbusFraming(string) (string, error) {
	h := modbus.NewRTUClientHandler("/dev/null")
	h.SlaveId = 1
	regs, err := modbus.NewClient2(h, meterReply{}).ReadInputRegisters(0, 2)
	if err != nil {
		return "", err
	}
	v := math.Float32frombits(binary.BigEndian.Uint32(regs))
	if v != 230 {
		return "", fmt.Errorf("decoded %v V, want 230 V", v)
	}
	return "request and reply CRCs match the reference frames, 230 V decoded", nil
}
