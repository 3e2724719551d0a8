package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/proctest"
)

// unit is what a packaged systemd unit says about how its service runs.
type unit struct {
	execStart  []string
	user       string
	group      string
	groups     []string // SupplementaryGroups=
	rw         []string // ReadWritePaths= and StateDirectory=
	runtimeDir string   // RuntimeDirectory=, under /run
	runtimeMod os.FileMode
	privateTmp bool
	umask      string   // UMask=
	env        []string // Environment=
}

// parseUnit reads the [Service] settings a test runs the service with.
func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	var u unit
	sc := bufio.NewScanner(strings.NewReader(read(t, path)))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.HasPrefix(key, "#") {
			continue
		}
		switch key {
		case "ExecStart":
			u.execStart = strings.Fields(value)
		case "User":
			u.user = value
		case "Group":
			u.group = value
		case "SupplementaryGroups":
			u.groups = append(u.groups, strings.Fields(value)...)
		case "ReadWritePaths":
			u.rw = append(u.rw, strings.Fields(value)...)
		case "StateDirectory": // writable, as systemd makes it
			u.rw = append(u.rw, "/var/lib/"+value)
		case "RuntimeDirectory":
			u.runtimeDir = "/run/" + value
		case "RuntimeDirectoryMode":
			m, err := strconv.ParseUint(value, 8, 32)
			if err != nil {
				t.Fatalf("%s: RuntimeDirectoryMode=%s: %v", path, value, err)
			}
			u.runtimeMod = os.FileMode(m)
		case "UMask":
			u.umask = value
		case "PrivateTmp":
			u.privateTmp = value == "yes"
		case "Environment":
			u.env = append(u.env, value)
		}
	}
	if len(u.execStart) == 0 || u.user == "" || u.group == "" || u.umask == "" {
		t.Fatalf("%s: no ExecStart=, User=, Group= or UMask=", path)
	}
	return u
}

// sandboxScript runs a command as systemd runs the unit's service, in a
// private mount namespace (unshare -m): the root read-only (ProtectSystem=
// strict, so /etc too) but for the paths given before "--" (ReadWritePaths=,
// the runtime directory, the private /tmp), which are bound writable, and
// /dev bound in, then chrooted into the root as the unit's user and groups
// with its umask.
const sandboxScript = `set -eu
root=$1 user=$2 groups=$3
umask "$4"
shift 4
mount --bind "$root" "$root"
while [ "$1" != -- ]; do
	mount --bind "$1" "$root$2"
	shift 2
done
shift
mount --rbind /dev "$root/dev"
mount -o remount,bind,ro "$root"
exec chroot --userspec="$user" --groups="$groups" "$root" "$@"`

// sandbox runs the installed package of root as the unit's service.
type sandbox struct {
	root string
	unit unit
	uid  string // numeric user:group of the unit, from root's accounts
	gids string // numeric supplementary groups
	rw   []string
}

// newSandbox prepares root to run the service of the unit installed at
// unitPath (relative to root): its runtime directory and private /tmp.
func newSandbox(t *testing.T, root, unitPath string) *sandbox {
	t.Helper()
	u := parseUnit(t, filepath.Join(root, unitPath))
	s := &sandbox{root: root, unit: u}
	uid := accountID(t, root, "passwd", u.user)
	gid := accountID(t, root, "group", u.group)
	s.uid = uid + ":" + gid
	gids := []string{gid}
	for _, g := range u.groups {
		gids = append(gids, accountID(t, root, "group", g))
	}
	s.gids = strings.Join(gids, ",")
	slices.Sort(u.rw)
	for _, d := range slices.Compact(u.rw) {
		s.rw = append(s.rw, filepath.Join(root, d), d)
	}
	if u.runtimeDir != "" {
		d := filepath.Join(root, u.runtimeDir)
		must.NoError(t, os.MkdirAll(d, 0o755))
		sh(t, "chown", s.uid, d)
		must.NoError(t, os.Chmod(d, u.runtimeMod))
		s.rw = append(s.rw, d, u.runtimeDir)
	}
	for _, d := range []string{"dev", "tmp"} {
		must.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	if u.privateTmp {
		tmp := t.TempDir()
		must.NoError(t, os.Chmod(tmp, 0o1777))
		s.rw = append(s.rw, tmp, "/tmp")
	}
	return s
}

// accountID is the numeric id of a user (db passwd) or group (db group) in
// root's accounts.
func accountID(t *testing.T, root, db, name string) string {
	t.Helper()
	for _, l := range strings.Split(read(t, filepath.Join(root, "etc", db)), "\n") {
		if f := strings.Split(l, ":"); len(f) > 2 && f[0] == name {
			return f[2]
		}
	}
	t.Fatalf("no %s %s in %s", db, name, root)
	return ""
}

// command is args (the unit's ExecStart when none) run in the sandbox as
// the unit's user, with the unit's environment.
func (s *sandbox) command(args ...string) *exec.Cmd {
	if len(args) == 0 {
		args = s.unit.execStart
	}
	all := append([]string{"-m", "sh", "-c", sandboxScript, "sh", s.root, s.uid, s.gids, s.unit.umask}, s.rw...)
	cmd := exec.Command("unshare", append(append(all, "--"), args...)...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, s.unit.env...)
	return cmd
}

// run runs args in the sandbox and returns its output; it fails the test
// unless the command succeeds.
func (s *sandbox) run(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, s.command(args...))
}

// service is the unit's service, started in a sandbox.
type service struct {
	cmd    *exec.Cmd
	log    *proctest.SyncBuffer
	done   chan error // receives Wait's result once
	exited bool       // done was received
}

// start starts the unit's ExecStart in the sandbox; it is killed if the
// test ends before stop.
func (s *sandbox) start(t *testing.T) *service {
	t.Helper()
	svc := &service{cmd: s.command(), log: &proctest.SyncBuffer{}, done: make(chan error, 1)}
	svc.cmd.Stdout = svc.log
	svc.cmd.Stderr = svc.log
	must.NoError(t, svc.cmd.Start())
	go func() { svc.done <- svc.cmd.Wait() }()
	t.Cleanup(func() {
		if !svc.exited {
			svc.cmd.Process.Kill()
			<-svc.done
		}
		if t.Failed() {
			t.Logf("service log:\n%s", svc.log.String())
		}
	})
	return svc
}

// waitLog waits until the service's log holds want, failing if it exits or
// the deadline passes first.
func (svc *service) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(svc.log.String(), want) {
		select {
		case err := <-svc.done:
			svc.exited = true
			t.Fatalf("service exited (%v) before logging %q", err, want)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("service did not log %q within 30s", want)
		}
	}
}

// stop sends SIGTERM, as systemctl stop does, and returns how the service
// exited; it fails the test if it takes longer than the unit's 30 s.
func (svc *service) stop(t *testing.T) error {
	t.Helper()
	must.NoError(t, svc.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-svc.done:
		svc.exited = true
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("service still running 30s after SIGTERM (TimeoutStopSec)")
	}
	return nil
}
