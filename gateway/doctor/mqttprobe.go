package doctor

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/edgegw/edgegw/mqtt"
)

// mqttConnect sends an MQTT 3.1.1 CONNECT (clean session, no credentials:
// the broker knows the gateway by its certificate) on rw and returns the
// CONNACK's return code; on 0 it disconnects politely. An error means the
// broker answered with no CONNACK: a TLS alert, a closed connection or a
// timeout.
func mqttConnect(rw io.ReadWriter, clientID string) (byte, error) {
	if len(clientID) > 0xffff {
		return 0, fmt.Errorf("client id of %d bytes is too long", len(clientID))
	}
	keepAlive := uint16(mqtt.DefaultKeepAlive / time.Second)
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, byte(keepAlive >> 8), byte(keepAlive)}
	body = append(body, byte(len(clientID)>>8), byte(len(clientID)))
	body = append(body, clientID...)
	pkt := append([]byte{0x10}, remainingLength(len(body))...)
	if _, err := rw.Write(append(pkt, body...)); err != nil {
		return 0, fmt.Errorf("send CONNECT: %w", err)
	}
	var ack [4]byte
	if _, err := io.ReadFull(rw, ack[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, errors.New("connection closed with no CONNACK")
		}
		return 0, fmt.Errorf("no CONNACK: %w", err)
	}
	if ack[0] != 0x20 || ack[1] != 2 {
		return 0, fmt.Errorf("not an MQTT CONNACK: % x", ack)
	}
	if ack[3] == 0 {
		rw.Write([]byte{0xe0, 0}) // DISCONNECT; the connection closes anyway
	}
	return ack[3], nil
}

// remainingLength encodes n as an MQTT variable byte integer.
func remainingLength(n int) []byte {
	var out []byte
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			return out
		}
	}
}

// connackReason names an MQTT 3.1.1 CONNACK return code.
func connackReason(code byte) string {
	switch code {
	case 1:
		return "unacceptable protocol version (1)"
	case 2:
		return "client identifier rejected (2)"
	case 3:
		return "server unavailable (3)"
	case 4:
		return "bad user name or password (4)"
	case 5:
		return "not authorized (5)"
	}
	return fmt.Sprintf("return code %d", code)
}
