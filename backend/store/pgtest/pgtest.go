// Package pgtest starts a throwaway PostgreSQL cluster for tests: initdb into
// a temporary directory, a server listening only on a Unix socket in that
// directory, stopped when the test ends. It uses the binaries of Debian's
// postgresql package (/usr/lib/postgresql/VERSION/bin) and, when the test runs
// as root, runs them as the user postgres, since initdb refuses root.
//
// Tests that use it are integration tests: Start skips them under -short and
// when PostgreSQL is not installed, unless the environment variable CI is set,
// where a missing PostgreSQL fails the test.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// binGlob finds the directories of installed PostgreSQL versions.
const binGlob = "/usr/lib/postgresql/*/bin"

// maxSocketPath is the longest Unix socket path Linux accepts, less the
// terminating NUL.
const maxSocketPath = 107

// Cluster is a running throwaway PostgreSQL cluster.
type Cluster struct {
	// Dir holds the cluster: data in Dir/data, the log in Dir/log, the
	// socket in Dir.
	Dir string
	// DSN connects to the database "edgegw", empty, created by Start.
	DSN string

	t     testing.TB
	bin   string   // directory of the PostgreSQL binaries
	user  string   // the cluster's superuser, who runs the binaries
	runAs []string // prefix running a command as user

	mu      sync.Mutex
	running bool
	dbs     int
}

// Start creates, starts and returns a cluster with an empty database, and
// stops it when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a PostgreSQL cluster: skipped under -short")
	}
	bin := findBin()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PostgreSQL is not installed (no " + binGlob + "): apt-get install -y postgresql")
		}
		t.Skip("PostgreSQL is not installed (no " + binGlob + "): apt-get install -y postgresql")
	}
	c := &Cluster{t: t, bin: bin, Dir: socketDir(t)}
	if os.Geteuid() == 0 {
		c.user, c.runAs = "postgres", []string{"runuser", "-u", "postgres", "--"}
		if err := c.chownForPostgres(); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	} else {
		u, err := user.Current()
		if err != nil {
			t.Fatalf("pgtest: current user: %v", err)
		}
		c.user = u.Username
	}
	c.run("initdb", "-D", c.data(), "-U", c.user, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	t.Cleanup(c.stopQuietly)
	c.Start()
	c.DSN = c.NewDatabase(t)
	return c
}

// findBin returns the binary directory of the newest installed PostgreSQL,
// or "" when there is none.
func findBin() string {
	dirs, _ := filepath.Glob(binGlob)
	var best string
	bestV := -1
	for _, d := range dirs {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if _, statErr := os.Stat(filepath.Join(d, "pg_ctl")); err == nil && statErr == nil && v > bestV {
			best, bestV = d, v
		}
	}
	return best
}

// socketDir returns the test's temporary directory, or a shorter one when a
// socket path in it would be too long for Linux.
func socketDir(t testing.TB) string {
	dir := t.TempDir()
	if len(dir)+len("/.s.PGSQL.5432") <= maxSocketPath {
		return dir
	}
	dir, err := os.MkdirTemp("", "pg")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// chownForPostgres gives Dir to the user postgres and, when Dir is inside a
// private directory the test created (t.TempDir's), lets postgres through it.
func (c *Cluster) chownForPostgres() error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("the user postgres, who runs PostgreSQL when the test runs as root: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(c.Dir, uid, gid); err != nil {
		return err
	}
	parent := filepath.Dir(c.Dir)
	if parent == filepath.Clean(os.TempDir()) {
		return nil
	}
	fi, err := os.Stat(parent)
	if err != nil {
		return err
	}
	return os.Chmod(parent, fi.Mode().Perm()|0o011)
}

func (c *Cluster) data() string { return filepath.Join(c.Dir, "data") }

// run runs a PostgreSQL binary as the cluster's user and fails the test,
// with the command's output, when it fails.
func (c *Cluster) run(name string, args ...string) {
	c.t.Helper()
	if err := c.tryRun(name, args...); err != nil {
		c.t.Fatalf("pgtest: %v", err)
	}
}

func (c *Cluster) tryRun(name string, args ...string) error {
	argv := append(slices.Clone(c.runAs), append([]string{filepath.Join(c.bin, name)}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "log"))
		return fmt.Errorf("%s: %w\n%s\nserver log:\n%s", strings.Join(argv, " "), err, out, log)
	}
	return nil
}

// Start starts the cluster's server again after Stop, and waits until it
// accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return
	}
	c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.Dir, "log"), "-w",
		"-o", "-k "+c.Dir+" -c listen_addresses=''", "start")
	c.running = true
}

// Stop stops the server (pg_ctl stop -m fast): clients are disconnected,
// transactions in progress are rolled back, committed ones stay.
func (c *Cluster) Stop() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return
	}
	c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "stop")
	c.running = false
}

// stopQuietly stops the server at cleanup, reporting a failure without
// calling FailNow.
func (c *Cluster) stopQuietly() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return
	}
	if err := c.tryRun("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "stop"); err != nil {
		c.t.Errorf("pgtest: %v", err)
	}
	c.running = false
}

// ConnString returns the connection string of database name.
func (c *Cluster) ConnString(name string) string {
	return fmt.Sprintf("host=%s dbname=%s user=%s sslmode=disable", c.Dir, name, c.user)
}

// NewDatabase creates an empty database in the cluster and returns its
// connection string.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	c.mu.Lock()
	c.dbs++
	name := fmt.Sprintf("edgegw_%d", c.dbs)
	if c.dbs == 1 {
		name = "edgegw"
	}
	c.mu.Unlock()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return c.ConnString(name)
}

// CPUTime returns the processor time (user and system) the server's processes
// have used so far: the postmaster, its running children, and the children it
// has reaped. Benchmarks divide work by it to report figures per core.
func (c *Cluster) CPUTime() (time.Duration, error) {
	pidFile, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("read postmaster.pid: %w", err)
	}
	master, _, _ := strings.Cut(string(pidFile), "\n")
	procs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return 0, err
	}
	var ticks uint64
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		// Fields after the command name, which is in parentheses: state ppid ... utime(14) stime(15) cutime(16) cstime(17).
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		pid := strings.TrimSuffix(strings.TrimPrefix(p, "/proc/"), "/stat")
		if len(f) < 15 || (pid != master && f[1] != master) {
			continue
		}
		for _, k := range []int{11, 12, 13, 14} { // utime stime cutime cstime, counted from state = 0
			n, _ := strconv.ParseUint(f[k], 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times, 100
// on every Linux architecture edgegw builds for.
const clockTicks = 100
