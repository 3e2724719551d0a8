package control

import (
	"math"
	"time"

	"github.com/edgegw/edgegw/drivers/reading"
	"github.com/edgegw/edgegw/gateway/config"
)

// DefaultSocket is the control socket's path when none is given: the
// configuration's default control.socket.
const DefaultSocket = config.DefaultControlSocket

// Reading is a reading.Reading on the wire.
type Reading struct {
	Device  string          `json:"device"`
	Channel string          `json:"channel"`
	Value   *reading.Number `json:"value,omitempty"` // absent when the device could not be read or the value is not finite
	Unit    string          `json:"unit"`
	Time    time.Time       `json:"time"`
	Flags   []string        `json:"flags,omitempty"` // quality flag names; absent when ok
}

// Reading returns r as a reading.Reading; a value that was not finite
// comes back as NaN.
func (r Reading) Reading() reading.Reading {
	v := math.NaN()
	if r.Value != nil {
		v = float64(*r.Value)
	}
	return reading.Reading{Device: r.Device, Channel: r.Channel, Value: v, Unit: reading.Unit(r.Unit), Time: r.Time, Flags: reading.ParseFlags(r.Flags)}
}

// Poll is one poll's readings of one device: a line of the watch stream.
type Poll struct {
	Readings []Reading `json:"readings"`
}

// Caller is who the server sees on the other end of the socket, with the
// credentials the kernel reported for it.
type Caller struct {
	UID     int    `json:"uid"`
	GID     int    `json:"gid"`
	PID     int    `json:"pid"`
	Process string `json:"process"`
	Role    string `json:"role"`
}

// DeviceState is the answer to a device enable or disable.
type DeviceState struct {
	Device  string `json:"device"`
	Enabled bool   `json:"enabled"`
}

type readRequest struct {
	Device string `json:"device"`
}

type readResponse struct {
	Readings []Reading `json:"readings"`
}

type logLevelRequest struct {
	Level string `json:"level"`
}

type auditResponse struct {
	Events []Event `json:"events"`
}

type errorResponse struct {
	Error string `json:"error"`
}

// wireReadings converts readings for the wire.
func wireReadings(rs []reading.Reading) []Reading {
	out := make([]Reading, 0, len(rs))
	for _, r := range rs {
		w := Reading{Device: r.Device, Channel: r.Channel, Unit: string(r.Unit), Time: r.Time}
		if r.Flags&reading.ReadError == 0 && !math.IsNaN(r.Value) && !math.IsInf(r.Value, 0) {
			v := reading.Number(r.Value)
			w.Value = &v
		}
		if r.Flags != 0 {
			w.Flags = r.Flags.Names()
		}
		out = append(out, w)
	}
	return out
}

// ExportItem is one line of the export stream: a batch, then the signed
// manifest last, or an error that ends the export.
type ExportItem struct {
	Batch    *ExportedBatch `json:"batch,omitempty"`
	Manifest []byte         `json:"manifest,omitempty"`
	Error    string         `json:"error,omitempty"`
}

// applyRequest is the body of POST /v1/config/apply.
type applyRequest struct {
	Config string `json:"config"` // the YAML configuration
}

// applyResponse answers it.
type applyResponse struct {
	Version uint64 `json:"version"` // the configuration version now on probation
}
