// Package selftest checks, on a new box, that edgegw's cryptography and
// buffer work on this CPU and file system, and lists the I2C and SPI buses
// the host offers. Technicians run it as `edgegw selftest`.
package selftest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/edgegw/edgegw/drivers"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/spi/spireg"

	"github.com/edgegw/edgegw/buffer"
	"github.com/edgegw/edgegw/crypto/envelope"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/drivers/reading"
)

// check is one self-test step.
type check struct {
	name string
	run  func(dir string) (string, error)
}

// driverChecks are the checks of the drivers this build links, each added
// by its file's init (modbus.go).
var driverChecks []check

// Result is the outcome of one check.
type Result struct {
	Check  string `json:"check"`            // what was checked, e.g. "buffer write and read (bbolt)"
	Pass   bool   `json:"pass"`             // whether it passed
	Detail string `json:"detail,omitempty"` // what it found, when it passed
	Error  string `json:"error,omitempty"`  // why it failed
}

// Run runs every check in a temporary directory, prints one pass/fail line
// per check on w and returns an error when any failed.
func Run(w io.Writer) error {
	results, err := Checks()
	for _, r := range results {
		if r.Pass {
			fmt.Fprintf(w, "pass  %s: %s\n", r.Check, r.Detail)
		} else {
			fmt.Fprintf(w, "fail  %s: %s\n", r.Check, r.Error)
		}
	}
	return err
}

// Checks runs every check in a temporary directory and returns their
// results, in a fixed order, with an error when any failed.
func Checks() ([]Result, error) {
	dir, err := os.MkdirTemp("", "edgegw-selftest-")
	if err != nil {
		return nil, fmt.Errorf("selftest: %w", err)
	}
	defer os.RemoveAll(dir)
	checks := []check{
		{"seal and open (x25519)", func(d string) (string, error) { return roundTrip(d, keys.SuiteX25519) }},
		{"seal and open (mlkem768x25519)", func(d string) (string, error) { return roundTrip(d, keys.SuiteMLKEM768X25519) }},
		{"buffer write and read (bbolt)", bufferRoundTrip},
	}
	checks = append(checks, driverChecks...)
	checks = append(checks, check{"i2c/spi buses", buses})
	var failed int
	var results []Result
	for i, c := range checks {
		sub := filepath.Join(dir, fmt.Sprint(i))
		if err := os.Mkdir(sub, 0o700); err != nil {
			return results, fmt.Errorf("selftest: %w", err)
		}
		detail, err := c.run(sub)
		if err != nil {
			failed++
			results = append(results, Result{Check: c.name, Error: err.Error()})
			continue
		}
		results = append(results, Result{Check: c.name, Pass: true, Detail: detail})
	}
	if failed > 0 {
		return results, fmt.Errorf("selftest: %d of %d checks failed", failed, len(checks))
	}
	return results, nil
}

// roundTrip seals a simulated meter poll with throwaway keys, signs it, and
// opens and verifies it again.
func roundTrip(dir string, suite keys.Suite) (string, error) {
	if err := keys.InitIdentity(dir, "selftest", false); err != nil {
		return "", err
	}
	if err := keys.GenerateRecipient(dir, suite, false); err != nil {
		return "", err
	}
	id, err := keys.LoadIdentity(dir)
	if err != nil {
		return "", err
	}
	pub, err := keys.LoadRecipientPublic(filepath.Join(dir, "recipient.pub"))
	if err != nil {
		return "", err
	}
	priv, err := keys.LoadRecipientPrivate(filepath.Join(dir, "recipient.key"))
	if err != nil {
		return "", err
	}
	want := meterPoll()
	b, err := envelope.NewBatch(pub, id.ID, "telemetry", 0, time.Now())
	if err != nil {
		return "", err
	}
	header, err := b.Header(1)
	if err != nil {
		return "", err
	}
	chunk, err := b.Seal(want)
	if err != nil {
		return "", err
	}
	trailer, err := envelope.Sign(id, header, [][]byte{chunk})
	if err != nil {
		return "", err
	}
	wire := envelope.Marshal(header, [][]byte{chunk}, trailer)
	env, err := envelope.Parse(wire)
	if err != nil {
		return "", err
	}
	if err := env.Verify(envelope.NewTrust(id.Public())); err != nil {
		return "", err
	}
	got, err := env.Open(priv)
	if err != nil {
		return "", err
	}
	if !equalReadings(got, want) {
		return "", errors.New("opened readings differ from the sealed ones")
	}
	return fmt.Sprintf("%d readings, %d bytes on the wire", len(got), len(wire)), nil
}

// meterPoll returns the readings of one poll of a three-phase meter: the
// size and shape of what a junction box seals, made up here so that the
// self test needs no emulator.
func meterPoll() []reading.Reading {
	t := time.Now().Truncate(time.Millisecond)
	values := []struct {
		channel string
		value   float64
		unit    reading.Unit
	}{
		{"v1", 230.1, reading.Volt}, {"v2", 231.4, reading.Volt}, {"v3", 229.2, reading.Volt},
		{"i1", 6.02, reading.Ampere}, {"i2", 5.11, reading.Ampere}, {"i3", 7.3, reading.Ampere},
		{"p1", 1385, reading.Watt}, {"p2", 1182, reading.Watt}, {"p3", 1673, reading.Watt}, {"p", 4240, reading.Watt},
		{"e", 1523.57, reading.KWh}, {"f", 50.01, reading.Hertz},
	}
	out := make([]reading.Reading, len(values))
	for i, v := range values {
		out[i] = reading.Reading{Device: "selftest", Channel: v.channel, Value: v.value, Unit: v.unit, Time: t}
	}
	return out
}

// equalReadings compares readings, times by instant.
func equalReadings(a, b []reading.Reading) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if !x.Time.Equal(y.Time) {
			return false
		}
		x.Time, y.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// bufferRoundTrip writes a batch into a bbolt buffer, reopens it and reads the
// batch back.
func bufferRoundTrip(dir string) (string, error) {
	path := filepath.Join(dir, "buffer.db")
	st, err := buffer.OpenBolt(path, buffer.Options{})
	if err != nil {
		return "", err
	}
	chunk := []byte("sealed chunk")
	seq, err := st.Begin("telemetry", time.Now(), func(uint64) ([]byte, error) { return []byte("header"), nil })
	if err == nil {
		err = st.Append(seq, chunk, 1)
	}
	if err == nil {
		err = st.Seal(seq, []byte("trailer"))
	}
	if err = errors.Join(err, st.Close()); err != nil {
		return "", err
	}
	if st, err = buffer.OpenBolt(path, buffer.Options{}); err != nil {
		return "", err
	}
	defer st.Close()
	got, err := st.Next(0, 10)
	if err != nil {
		return "", err
	}
	if len(got) != 1 || got[0].Seq != seq || len(got[0].Chunks) != 1 || string(got[0].Chunks[0]) != string(chunk) {
		return "", errors.New("batch read back differs from the one written")
	}
	if err := st.Ack(seq); err != nil {
		return "", err
	}
	return "written, reopened, read back and acknowledged", nil
}

// buses initialises periph's host drivers and lists the buses found. No bus
// is not a failure: the box may carry only Modbus meters.
func buses(string) (string, error) {
	if err := drivers.InitHost(); err != nil {
		return "", err
	}
	var names []string
	for _, r := range i2creg.All() {
		names = append(names, r.Name)
	}
	for _, r := range spireg.All() {
		names = append(names, r.Name)
	}
	if len(names) == 0 {
		return "none found (no /dev/i2c-* or /dev/spidev*: enable I2C/SPI on the board to use such sensors)", nil
	}
	return fmt.Sprint(names), nil
}
