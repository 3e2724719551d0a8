package proctest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// CPU returns the processor time (user and system) process pid has used,
// from /proc/PID/stat.
func CPU(t testing.TB, pid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// utime and stime are fields 14 and 15; count after the command name,
	// which is in parentheses and may contain spaces.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// SelfCPU returns the processor time (user and system) this process has
// used.
func SelfCPU(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// CPUOf returns the processor time cpu reports, such as a database
// server's, failing t on its error; 0 when cpu is nil (no such server).
func CPUOf(t testing.TB, cpu func() (time.Duration, error)) time.Duration {
	t.Helper()
	if cpu == nil {
		return 0
	}
	d, err := cpu()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
