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

// FindAgent returns the pid of the `edgegw run` process that is the agent of
// the configuration file config with control socket socket, or 0 when none
// runs. The agent is the process that holds the listening control socket
// (socket "off" or "" skips this), or else an `edgegw run` whose --config
// is the same file as config (its default, /etc/edgegw/edgegw.yaml, when it
// gives none). Agents of other configurations on the same machine are not
// it.
func FindAgent(config, socket string) int {
	if socket != "" && socket != "off" {
		if pid := socketOwner(socket); pid != 0 {
			return pid
		}
	}
	for _, pid := range otherProcesses() {
		if path, ok := agentConfig(pid); ok && sameFile(config, path) {
			return pid
		}
	}
	return 0
}

// otherProcesses returns the pids in /proc but this process's.
func otherProcesses() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// socketOwner returns the pid of a process holding the Unix socket bound to
// path, or 0.
func socketOwner(path string) int {
	inodes, err := unixSocketInodes(path)
	if err != nil || len(inodes) == 0 {
		return 0
	}
	for _, pid := range otherProcesses() {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue // gone, or another user's process
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(dir, fd.Name()))
			if err == nil && strings.HasPrefix(target, "socket:[") && inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] {
				return pid
			}
		}
	}
	return 0
}

// unixSocketInodes returns the inodes of the Unix sockets bound to path,
// from /proc/net/unix.
func unixSocketInodes(path string) (map[string]bool, error) {
	f, err := os.Open("/proc/net/unix")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	inodes := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header: Num RefCount Protocol Flags Type St Inode Path
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 8 && fields[7] == path {
			inodes[fields[6]] = true
		}
	}
	return inodes, sc.Err()
}

// defaultAgentConfig is the configuration `edgegw run` reads without --config.
const defaultAgentConfig = "/etc/edgegw/edgegw.yaml"

// agentConfig reports whether process pid runs `edgegw run`, and the
// configuration file it was given, as a path that resolves from here (a
// relative one through the process's working directory).
func agentConfig(pid int) (string, bool) {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "edgegw" {
		return "", false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "", false
	}
	args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	if len(args) < 2 || args[1] != "run" {
		return "", false
	}
	path := defaultAgentConfig
	for i := 2; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "--config" || a == "-c") && i+1 < len(args):
			path = args[i+1]
			i++
		case strings.HasPrefix(a, "--config="):
			path = strings.TrimPrefix(a, "--config=")
		case strings.HasPrefix(a, "-c") && len(a) > 2:
			path = strings.TrimPrefix(strings.TrimPrefix(a, "-c"), "=")
		}
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(fmt.Sprintf("/proc/%d/cwd", pid), path)
	}
	return path, true
}

// sameFile reports whether paths a and b name the same file; when either
// cannot be looked at, whether they are the same path.
func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(fa, fb)
	}
	absA, err1 := filepath.Abs(a)
	absB, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && absA == absB
}
