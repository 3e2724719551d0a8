package drivers

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"
)

// Buses gives drivers the bus their device is attached to, by the name used
// in the configuration. Drivers never close what they get: the owner of the
// Buses (the gateway, or a technician command) closes every bus at the end.
type Buses interface {
	// I2C returns the I²C bus called name: "/dev/i2c-1", "1", "I2C1", or an
	// emulated bus such as "sim:i2c-1".
	I2C(name string) (i2c.Bus, error)
	// SPI returns the SPI port called name: "/dev/spidev0.0", "SPI0.0", or
	// an emulated port such as "sim:spi0.0".
	SPI(name string) (spi.Port, error)
	// Serial returns the device path of the serial port called name:
	// "/dev/ttyUSB0" as it is, or, for an emulated port such as
	// "sim:rs485-1", the path of a pseudo-terminal whose other end the
	// emulator serves.
	Serial(name string) (string, error)
}

// BusProvider opens the buses whose names start with its prefix and a colon,
// such as the emulated buses of drivers/sim ("sim:").
type BusProvider interface {
	OpenI2C(name string) (i2c.BusCloser, error)
	OpenSPI(name string) (spi.PortCloser, error)
	OpenSerial(name string) (path string, c io.Closer, err error)
}

var providers = struct {
	sync.Mutex
	m map[string]BusProvider
}{m: map[string]BusProvider{}}

// RegisterBusProvider makes the buses named "<prefix>:..." available. It is
// called from init and panics on a duplicate prefix.
func RegisterBusProvider(prefix string, p BusProvider) {
	providers.Lock()
	defer providers.Unlock()
	if _, dup := providers.m[prefix]; dup {
		panic(fmt.Sprintf("drivers: bus provider %q registered twice", prefix))
	}
	providers.m[prefix] = p
}

// provider returns the provider of a prefixed bus name, or nil for a host
// bus.
func provider(name string) (BusProvider, error) {
	prefix, _, ok := strings.Cut(name, ":")
	if !ok {
		return nil, nil
	}
	providers.Lock()
	defer providers.Unlock()
	p, found := providers.m[prefix]
	if !found {
		return nil, fmt.Errorf("bus %q: no provider for %q buses", name, prefix)
	}
	return p, nil
}

// BusSet opens each bus once, shares it between the devices on it, and
// closes them all. It implements Buses on the host's buses (through
// periph.io) and on registered providers.
type BusSet struct {
	mu      sync.Mutex
	i2c     map[string]i2c.BusCloser
	spi     map[string]spi.PortCloser
	serial  map[string]string
	closers []io.Closer
	hostErr error
	hostIn  bool
}

var _ Buses = (*BusSet)(nil)

// NewBusSet returns an empty set; buses are opened on first use.
func NewBusSet() *BusSet {
	return &BusSet{i2c: map[string]i2c.BusCloser{}, spi: map[string]spi.PortCloser{}, serial: map[string]string{}}
}

// initHost loads periph's host drivers once.
func (s *BusSet) initHost() error {
	if !s.hostIn {
		s.hostIn = true
		if _, err := host.Init(); err != nil {
			s.hostErr = fmt.Errorf("host drivers: %w", err)
		}
	}
	return s.hostErr
}

// I2C implements Buses.
func (s *BusSet) I2C(name string) (i2c.Bus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.i2c[name]; ok {
		return b, nil
	}
	p, err := provider(name)
	if err != nil {
		return nil, err
	}
	var b i2c.BusCloser
	if p != nil {
		b, err = p.OpenI2C(name)
	} else if err = s.initHost(); err == nil {
		b, err = i2creg.Open(name)
	}
	if err != nil {
		return nil, fmt.Errorf("i2c bus %q: %w", name, err)
	}
	s.i2c[name] = b
	s.closers = append(s.closers, b)
	return b, nil
}

// SPI implements Buses.
func (s *BusSet) SPI(name string) (spi.Port, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.spi[name]; ok {
		return p, nil
	}
	prov, err := provider(name)
	if err != nil {
		return nil, err
	}
	var port spi.PortCloser
	if prov != nil {
		port, err = prov.OpenSPI(name)
	} else if err = s.initHost(); err == nil {
		port, err = spireg.Open(name)
	}
	if err != nil {
		return nil, fmt.Errorf("spi port %q: %w", name, err)
	}
	s.spi[name] = port
	s.closers = append(s.closers, port)
	return port, nil
}

// Serial implements Buses.
func (s *BusSet) Serial(name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if path, ok := s.serial[name]; ok {
		return path, nil
	}
	prov, err := provider(name)
	if err != nil {
		return "", err
	}
	path := name
	if prov != nil {
		var c io.Closer
		if path, c, err = prov.OpenSerial(name); err != nil {
			return "", fmt.Errorf("serial port %q: %w", name, err)
		}
		s.closers = append(s.closers, c)
	}
	s.serial[name] = path
	return path, nil
}

// Close closes every bus the set opened.
func (s *BusSet) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i].Close())
	}
	s.closers = nil
	clear(s.i2c)
	clear(s.spi)
	clear(s.serial)
	return errors.Join(errs...)
}
