package chips

import (
	"fmt"
	"math"
	"time"

	"github.com/edgegw/edgegw/drivers/sensirion"
)

// sensirionChip is the command framing Sensirion chips share: a write sets
// the command (and its CRC-protected arguments); a read returns the reply
// the last command prepared. Real chips NACK a read with nothing to send.
type sensirionChip struct {
	reply     []byte
	measuring bool
	period    time.Duration // sampling period while measuring
	start     time.Time     // start of the measurement
	taken     int           // index of the last sample read
}

// Measuring reports whether the chip measures.
func (s *sensirionChip) Measuring() bool { return s.measuring }

// startMeasuring starts a measurement sampling every period.
func (s *sensirionChip) startMeasuring(now time.Time, period time.Duration) {
	s.measuring, s.start, s.taken, s.period = true, now, 0, period
}

// samples is the number of samples produced since the start.
func (s *sensirionChip) samples(now time.Time) int {
	if !s.measuring {
		return 0
	}
	return int(now.Sub(s.start) / s.period)
}

// fresh reports whether a sample not read yet is there.
func (s *sensirionChip) fresh(now time.Time) bool { return s.samples(now) > s.taken }

// take marks the newest sample read and returns when it was sampled. With
// no sample yet the chip NACKs the read command, named by what.
func (s *sensirionChip) take(now time.Time, what string) (time.Time, error) {
	n := s.samples(now)
	if n == 0 {
		return time.Time{}, fmt.Errorf("%s with no sample: %w", what, ErrNACK)
	}
	s.taken = n
	return s.start.Add(time.Duration(n) * s.period), nil
}

// tx parses a written command, runs it with command, and copies the pending
// reply into r.
func (s *sensirionChip) tx(now time.Time, w, r []byte, command func(time.Time, uint16, []uint16) error) error {
	if len(w) > 0 {
		cmd, args, err := parseCommand(w)
		if err != nil {
			return err
		}
		if err := command(now, cmd, args); err != nil {
			return err
		}
	}
	return s.readReply(r)
}

// parse splits a write into command and argument words, checking CRCs.
func parseCommand(w []byte) (cmd uint16, args []uint16, err error) {
	if len(w) < 2 {
		return 0, nil, fmt.Errorf("command of %d bytes: %w", len(w), ErrNACK)
	}
	cmd = uint16(w[0])<<8 | uint16(w[1])
	args, err = sensirion.Words(w[2:])
	if err != nil {
		return 0, nil, fmt.Errorf("command 0x%04x: %w: %w", cmd, err, ErrNACK)
	}
	return cmd, args, nil
}

// respond prepares a reply of words, damaged if a CRC fault is pending.
func (s *sensirionChip) respond(f *Faults, words ...uint16) {
	s.reply = sensirion.AppendWords(nil, words...)
	if len(s.reply) > 0 && f.takeCorrupt() {
		s.reply[len(s.reply)-1] ^= 0x5A
	}
}

// readReply copies the pending reply into r.
func (s *sensirionChip) readReply(r []byte) error {
	if len(r) == 0 {
		return nil
	}
	if s.reply == nil { // address probe (i2c scan): bytes read as 0xFF
		for i := range r {
			r[i] = 0xFF
		}
		return nil
	}
	n := copy(r, s.reply)
	for i := n; i < len(r); i++ {
		r[i] = 0xFF
	}
	s.reply = nil
	return nil
}

// SCD41 emulates a Sensirion SCD41 CO₂ sensor: periodic (5 s) and low-power
// (30 s) measurement with the first sample one period after start,
// get_data_ready_status, read_measurement (clears data ready), stop, serial
// number, set_ambient_pressure, reinit, wake_up and single-shot. While
// measuring it NACKs the commands the datasheet forbids then.
type SCD41 struct {
	Faults
	sensirionChip
	pressure uint16
}

// NewSCD41 returns an idle SCD41.
func NewSCD41() *SCD41 { return &SCD41{pressure: 1013} }

// reset restores the power-on state (idle).
func (c *SCD41) reset() {
	c.measuring, c.reply, c.taken = false, nil, 0
}

// Tx implements Chip.
func (c *SCD41) Tx(now time.Time, w, r []byte) error { return c.tx(now, w, r, c.command) }

func (c *SCD41) command(now time.Time, cmd uint16, args []uint16) error {
	allowed := map[uint16]bool{0xEC05: true, 0xE4B8: true, 0x3F86: true, 0xE000: true}
	if c.measuring && !allowed[cmd] {
		return fmt.Errorf("command 0x%04x while measuring: %w", cmd, ErrNACK)
	}
	switch cmd {
	case 0x21B1, 0x21AC: // start (low power) periodic measurement
		c.startMeasuring(now, 5*time.Second)
		if cmd == 0x21AC {
			c.period = 30 * time.Second
		}
	case 0x3F86: // stop
		c.measuring = false
	case 0xE4B8: // get_data_ready_status
		var w uint16 = 0x8000
		if c.fresh(now) {
			w |= 0x0006
		}
		c.respond(&c.Faults, w)
	case 0xEC05: // read_measurement
		at, err := c.take(now, "read_measurement")
		if err != nil {
			return err
		}
		t := c.valueTime(at)
		co2 := wave(t, 520, 120, 6*time.Hour, 0)
		temp := wave(t, 21, 3, 24*time.Hour, 1)
		rh := wave(t, 55, 10, 12*time.Hour, 2)
		c.respond(&c.Faults, uint16(co2), uint16((temp+45)*65535/175), uint16(rh*65535/100))
	case 0x3682: // get_serial_number
		c.respond(&c.Faults, 0xBEEF, 0x0062, 0x0041)
	case 0xE000: // set_ambient_pressure
		if len(args) != 1 {
			return fmt.Errorf("set_ambient_pressure without argument: %w", ErrNACK)
		}
		c.pressure = args[0]
	case 0x3646, 0x36F6: // reinit, wake_up
		c.reply = nil
	case 0x219D: // measure_single_shot: a sample 5 s later
		c.startMeasuring(now, 5*time.Second)
	default:
		return fmt.Errorf("unknown command 0x%04x: %w", cmd, ErrNACK)
	}
	return nil
}

// SPS30 emulates a Sensirion SPS30 particulate sensor: start_measurement in
// float (0x0300) or uint16 (0x0500) format, a new sample every second,
// read_data_ready_flag, read_measured_values, stop, device reset, sleep and
// wake-up, fan cleaning, serial number and device status.
type SPS30 struct {
	Faults
	sensirionChip
	float    bool
	sleeping bool
}

// NewSPS30 returns an SPS30 in idle mode.
func NewSPS30() *SPS30 { return &SPS30{} }

// reset restores the power-on state (idle).
func (c *SPS30) reset() { c.measuring, c.sleeping, c.reply, c.taken = false, false, nil, 0 }

// Tx implements Chip.
func (c *SPS30) Tx(now time.Time, w, r []byte) error { return c.tx(now, w, r, c.command) }

func (c *SPS30) command(now time.Time, cmd uint16, args []uint16) error {
	if c.sleeping && cmd != 0x1103 {
		return fmt.Errorf("command 0x%04x while sleeping: %w", cmd, ErrNACK)
	}
	switch cmd {
	case 0x0010: // start_measurement
		if len(args) != 1 || (args[0] != 0x0300 && args[0] != 0x0500) {
			return fmt.Errorf("start_measurement argument %v: %w", args, ErrNACK)
		}
		c.startMeasuring(now, time.Second)
		c.float = args[0] == 0x0300
	case 0x0104: // stop_measurement
		c.measuring = false
	case 0x0202: // read_data_ready_flag
		var w uint16
		if c.fresh(now) {
			w = 1
		}
		c.respond(&c.Faults, w)
	case 0x0300: // read_measured_values
		at, err := c.take(now, "read_measured_values")
		if err != nil {
			return err
		}
		c.respond(&c.Faults, c.values(c.valueTime(at))...)
	case 0xD304: // device_reset
		c.reset()
	case 0x1001: // sleep (only when idle)
		if c.measuring {
			return fmt.Errorf("sleep while measuring: %w", ErrNACK)
		}
		c.sleeping = true
	case 0x1103: // wake_up
		c.sleeping = false
	case 0x5607: // start_fan_cleaning
		if !c.measuring {
			return fmt.Errorf("fan cleaning while idle: %w", ErrNACK)
		}
	case 0xD033: // read_serial_number: ASCII, NUL padded, 32 bytes
		s := []byte("EDGEGWSIM0069\x00\x00\x00")
		ws := make([]uint16, len(s)/2)
		for i := range ws {
			ws[i] = uint16(s[2*i])<<8 | uint16(s[2*i+1])
		}
		c.respond(&c.Faults, ws...)
	case 0xD206: // read_device_status_register
		c.respond(&c.Faults, 0, 0)
	default:
		return fmt.Errorf("unknown command 0x%04x: %w", cmd, ErrNACK)
	}
	return nil
}

// values returns the measured values as words in the current format.
func (c *SPS30) values(t time.Time) []uint16 {
	pm25 := wave(t, 18, 10, 3*time.Hour, 0)
	v := []float64{pm25 * 0.55, pm25, pm25 * 1.4, pm25 * 1.8, pm25 * 6, pm25 * 7, pm25 * 7.4, pm25 * 7.5, pm25 * 7.55, 0.6}
	var ws []uint16
	for i, x := range v {
		if c.float {
			b := math.Float32bits(float32(x))
			ws = append(ws, uint16(b>>16), uint16(b))
		} else {
			if i == 9 {
				x *= 1000 // typical particle size in nm
			}
			ws = append(ws, uint16(x))
		}
	}
	return ws
}
