package pms5003

import (
	"sync"
	"time"

	"github.com/goburrow/serial"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/option"
)

func init() {
	drivers.MustRegister(drivers.Driver{Kind: "pms5003", Factory: Factory, Channels: channels, Bus: drivers.SerialBus})
}

// Factory builds a PMS5003 from its configuration (see the package
// documentation for the options). The serial port is opened on first use
// and reopened after an error, so an unplugged USB adapter recovers.
func Factory(dev drivers.Device, deps drivers.Deps) (drivers.Sensor, error) {
	o := option.New(dev.Options)
	opts := &Opts{Common: o.Common(dev, deps, drivers.SerialBus, defaultWarmup)}
	timeout := o.Duration("timeout", 2*time.Second)
	return option.Build(o, deps.Serial, opts.BusName, func(path string, opts *Opts) (*Dev, error) {
		return New(&Port{Config: serial.Config{Address: path, BaudRate: 9600, DataBits: 8, StopBits: 1, Parity: "N", Timeout: timeout}}, opts)
	}, opts)
}

// Port is a serial port opened on first use and closed after any error, so
// the next use reopens it.
type Port struct {
	Config serial.Config
	mu     sync.Mutex
	p      serial.Port
}

func (s *Port) port() (serial.Port, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		p, err := serial.Open(&s.Config)
		if err != nil {
			return nil, err
		}
		s.p = p
	}
	return s.p, nil
}

func (s *Port) fail(err error) error {
	if err != nil {
		s.mu.Lock()
		if s.p != nil {
			s.p.Close()
			s.p = nil
		}
		s.mu.Unlock()
	}
	return err
}

// Read implements io.Reader.
func (s *Port) Read(b []byte) (int, error) {
	p, err := s.port()
	if err != nil {
		return 0, err
	}
	n, err := p.Read(b)
	if err != nil && n == 0 {
		return 0, s.fail(err)
	}
	return n, nil
}

// Write implements io.Writer.
func (s *Port) Write(b []byte) (int, error) {
	p, err := s.port()
	if err != nil {
		return 0, err
	}
	n, err := p.Write(b)
	return n, s.fail(err)
}

// Close closes the port if it is open.
func (s *Port) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return nil
	}
	err := s.p.Close()
	s.p = nil
	return err
}
