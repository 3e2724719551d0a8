package modbusmeter

import "golang.org/x/sys/unix"

// drain discards whatever waits in the port's input queue. The queue
// belongs to the terminal, not to a file descriptor, so a second
// descriptor can flush what goburrow's would read next.
func drain(path string) error {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIFLUSH)
}
