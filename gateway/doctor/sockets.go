package doctor

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ListeningSockets returns the TCP sockets in LISTEN state and the bound UDP
// sockets that process pid holds, as "tcp 0.0.0.0:1883"-like strings, from
// /proc/<pid>/fd and /proc/net/{tcp,tcp6,udp,udp6}.
func ListeningSockets(pid int) ([]string, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, fmt.Errorf("list the agent's sockets: %w", err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		found, err := scanNet(fmt.Sprintf("/proc/%d/net/%s", pid, proto), proto, inodes)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

// scanNet returns the entries of a /proc/net table that belong to inodes and
// listen: TCP state 0A (LISTEN), or any UDP socket (UDP has no connection
// state; a bound UDP socket receives).
func scanNet(path, proto string, inodes map[string]bool) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil // no IPv6 in this kernel
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || !inodes[fields[9]] {
			continue
		}
		if strings.HasPrefix(proto, "tcp") && fields[3] != "0A" {
			continue
		}
		out = append(out, proto+" "+fields[1])
	}
	return out, sc.Err()
}

// FindAgent returns the pid of a running edgegw process other than this one,
// or 0.
func FindAgent() int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		comm, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == "edgegw" && isAgent(pid) {
			return pid
		}
	}
	return 0
}

// isAgent reports whether process pid runs `edgegw run`.
func isAgent(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(cmdline), "\x00")
	return len(args) > 1 && args[1] == "run"
}
