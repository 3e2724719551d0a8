package drivers

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	_ "periph.io/x/host/v3/gpioioctl" // sysfs's GPIO driver depends on it
	"periph.io/x/host/v3/sysfs"
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

// BusKind is the kind of bus a device is attached to.
type BusKind string

// Bus kinds.
const (
	I2CBus    BusKind = "i2c"
	SPIBus    BusKind = "spi"
	SerialBus BusKind = "serial"
)

// DefaultBus is the bus of the kind that a technician command uses when it
// is given none: the host's first, or with sim the first emulated one.
func (k BusKind) DefaultBus(sim bool) string {
	switch {
	case sim && k == SPIBus:
		return "sim:spi0.0"
	case sim && k == SerialBus:
		return "sim:uart-1"
	case sim:
		return "sim:i2c-1"
	case k == SPIBus:
		return "/dev/spidev0.0"
	case k == SerialBus:
		return "/dev/ttyAMA0"
	}
	return "/dev/i2c-1"
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

// HasBusProvider reports whether buses named "<prefix>:..." can be opened:
// whether the build carries the provider of that prefix.
func HasBusProvider(prefix string) bool {
	providers.Lock()
	defer providers.Unlock()
	_, ok := providers.m[prefix]
	return ok
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

// InitHost loads periph's drivers of the host's I²C buses and SPI ports,
// those of Linux's /dev/i2c-* and /dev/spidev* (periph's sysfs package).
// The boards' memory-mapped GPIO drivers (periph's host package) are left
// out: edgegw reaches its devices through the kernel's bus devices only.
func InitHost() error {
	if _, err := driverreg.Init(); err != nil {
		return fmt.Errorf("host drivers: %w", err)
	}
	return nil
}

// initHost loads periph's host drivers once.
func (s *BusSet) initHost() error {
	if !s.hostIn {
		s.hostIn = true
		s.hostErr = InitHost()
	}
	return s.hostErr
}

// I2C implements Buses. A host bus that cannot be opened gives an error
// matching ErrBusUnavailable that says what to do (see BusError).
func (s *BusSet) I2C(name string) (i2c.Bus, error) {
	return openShared(s, s.i2c, I2CBus, "i2c bus", name, BusProvider.OpenI2C, s.openHostI2C)
}

// SPI implements Buses, like I2C.
func (s *BusSet) SPI(name string) (spi.Port, error) {
	return openShared(s, s.spi, SPIBus, "spi port", name, BusProvider.OpenSPI, s.openHostSPI)
}

// openShared returns the bus called name from opened, or opens it (through
// its provider with viaProvider, else on the host with onHost) and keeps it
// in opened to share and in the closers to close. kind and what name the
// bus in errors.
func openShared[B io.Closer](s *BusSet, opened map[string]B, kind BusKind, what, name string, viaProvider func(BusProvider, string) (B, error), onHost func(string) (B, error)) (B, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := opened[name]; ok {
		return b, nil
	}
	var none B
	p, err := provider(name)
	if err != nil {
		return none, err
	}
	var b B
	if p != nil {
		if b, err = viaProvider(p, name); err != nil {
			return none, fmt.Errorf("%s %q: %w", what, name, err)
		}
	} else if b, err = onHost(name); err != nil {
		return none, BusError(kind, name, err)
	}
	opened[name] = b
	s.closers = append(s.closers, b)
	return b, nil
}

// openHostI2C opens a host I²C bus through periph's registry. A
// /dev/i2c-N node that appeared after the host drivers were loaded (the
// interface enabled, the module loaded) is opened directly, so that a bus
// missing at start is found when it comes.
func (s *BusSet) openHostI2C(name string) (i2c.BusCloser, error) {
	err := s.initHost()
	if err == nil {
		var b i2c.BusCloser
		if b, err = i2creg.Open(name); err == nil {
			return b, nil
		}
	}
	if n, ierr := strconv.Atoi(strings.TrimPrefix(name, "/dev/i2c-")); ierr == nil && strings.HasPrefix(name, "/dev/i2c-") {
		if b, serr := sysfs.NewI2C(n); serr == nil {
			return b, nil
		}
	}
	return nil, err
}

// openHostSPI opens a host SPI port through periph's registry.
func (s *BusSet) openHostSPI(name string) (spi.PortCloser, error) {
	if err := s.initHost(); err != nil {
		return nil, err
	}
	return spireg.Open(name)
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

// Deferred returns Buses that open buses through b, except that an I²C bus
// or SPI port that cannot be opened now (ErrBusUnavailable) is returned
// anyway: every transfer on it tries to open it again and, until that
// succeeds, fails with the reason. The agent builds its devices through
// it, so that a missing bus fails the devices on it at each poll, not the
// agent.
func Deferred(b Buses) Buses { return deferred{b} }

// deferred implements Deferred.
type deferred struct{ Buses }

func (d deferred) SPI(name string) (spi.Port, error) {
	port, err := d.Buses.SPI(name)
	if errors.Is(err, ErrBusUnavailable) {
		return &lateSPI{name: name, open: d.Buses.SPI}, nil
	}
	return port, err
}

// lateSPI is an SPI port opened at the first transfer that succeeds.
type lateSPI struct {
	name string
	open func(string) (spi.Port, error)
}

// String returns the port name.
func (l *lateSPI) String() string { return l.name }

// Connect implements spi.Port: the connection is made at the first
// transfer, when the port can be opened.
func (l *lateSPI) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	return &lateSPIConn{name: l.name, conn: opener[spi.Conn]{open: func() (spi.Conn, error) {
		p, err := l.open(l.name)
		if err != nil {
			return nil, err
		}
		return p.Connect(f, mode, bits)
	}}}, nil
}

// lateSPIConn is a connection to a lateSPI port.
type lateSPIConn struct {
	name string
	conn opener[spi.Conn]
}

// String returns the port name.
func (l *lateSPIConn) String() string { return l.name }

// Tx implements conn.Conn.
func (l *lateSPIConn) Tx(w, r []byte) error {
	c, err := l.conn.get()
	if err != nil {
		return err
	}
	return c.Tx(w, r)
}

// TxPackets implements spi.Conn.
func (l *lateSPIConn) TxPackets(p []spi.Packet) error {
	c, err := l.conn.get()
	if err != nil {
		return err
	}
	return c.TxPackets(p)
}

// Duplex implements conn.Conn.
func (l *lateSPIConn) Duplex() conn.Duplex { return conn.Full }

func (d deferred) I2C(name string) (i2c.Bus, error) {
	bus, err := d.Buses.I2C(name)
	if errors.Is(err, ErrBusUnavailable) {
		return &lateI2C{name: name, bus: opener[i2c.Bus]{open: func() (i2c.Bus, error) { return d.Buses.I2C(name) }}}, nil
	}
	return bus, err
}

// lateI2C is an I²C bus opened at its first use that succeeds.
type lateI2C struct {
	name string
	bus  opener[i2c.Bus]
}

// String returns the bus name.
func (l *lateI2C) String() string { return l.name }

// Tx implements i2c.Bus.
func (l *lateI2C) Tx(addr uint16, w, r []byte) error {
	b, err := l.bus.get()
	if err != nil {
		return err
	}
	return b.Tx(addr, w, r)
}

// SetSpeed implements i2c.Bus.
func (l *lateI2C) SetSpeed(f physic.Frequency) error {
	b, err := l.bus.get()
	if err != nil {
		return err
	}
	return b.SetSpeed(f)
}

// opener opens, at the first use that succeeds, what a deferred bus or port
// stands for; until then each use tries open again.
type opener[T any] struct {
	open   func() (T, error)
	mu     sync.Mutex
	v      T
	opened bool
}

// get returns what was opened, opening it unless it was.
func (o *opener[T]) get() (T, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.opened {
		v, err := o.open()
		if err != nil {
			return v, err
		}
		o.v, o.opened = v, true
	}
	return o.v, nil
}
