package drivers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// ErrBusUnavailable reports a host bus or port that cannot be opened now:
// its device node is absent (the interface is not enabled, the adapter is
// unplugged), may not be opened by the user, or no host driver serves it.
// The agent fails only the devices on it, and tries again at their next
// poll.
var ErrBusUnavailable = errors.New("bus unavailable")

// busHints says, per kind of bus, what to call it, how to enable it and
// which group may open it.
var busHints = map[BusKind]struct{ noun, enable, group string }{
	"i2c":    {"i2c bus", "enable I2C (raspi-config → Interface Options → I2C, or dtparam=i2c_arm=on in config.txt) and reboot", "i2c"},
	"spi":    {"spi bus", "enable SPI (raspi-config → Interface Options → SPI, or dtparam=spi=on in config.txt) and reboot", "spi"},
	"serial": {"serial port", "check the adapter is plugged in, or enable the UART (enable_uart=1 in config.txt)", "dialout"},
}

// Enable says how a technician enables the host interface of buses of kind
// k, or connects the adapter of a serial port.
func (k BusKind) Enable() string { return busHints[k].enable }

// busError is an error opening a bus: its message says what to do, and it
// matches ErrBusUnavailable and the cause.
type busError struct {
	msg   string
	cause error
}

func (e *busError) Error() string   { return e.msg }
func (e *busError) Unwrap() []error { return []error{ErrBusUnavailable, e.cause} }

// BusError explains why the host bus of the given kind ("i2c", "spi" or
// "serial") called name could not be opened: when its device node does not
// exist, how to enable the interface and which group the user needs; when
// it may not be opened, the group to join. The error matches
// ErrBusUnavailable and err. It is the one source of these hints, for the
// agent's read errors and the technician commands alike.
func BusError(kind BusKind, name string, err error) error {
	h := busHints[kind]
	cause := err
	if strings.HasPrefix(name, "/dev/") && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
		// periph's bus registry reports neither: look at the node itself.
		f, oerr := os.OpenFile(name, os.O_RDWR, 0)
		if oerr == nil {
			f.Close()
		}
		cause = oerr
	}
	var msg string
	switch {
	case errors.Is(cause, fs.ErrNotExist):
		msg = fmt.Sprintf("%s %s does not exist: %s; the user also needs to be in group %s (sudo usermod -aG %s $USER)", h.noun, name, h.enable, h.group, h.group)
	case errors.Is(cause, fs.ErrPermission):
		msg = fmt.Sprintf("%s %s: permission denied: add the user to group %s (sudo usermod -aG %s $USER) and log in again", h.noun, name, h.group, h.group)
	default:
		return &busError{msg: fmt.Sprintf("%s %s: %v", h.noun, name, err), cause: err}
	}
	// The cause found at the node says more than a bus registry's error.
	return &busError{msg: msg + ": " + cause.Error(), cause: err}
}
