package fleet_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/crypto/confsig"
	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/gateway/fleet"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/internal/poll"
)

// readOnly makes the agent of b run with dir mounted read-only in a private
// mount namespace, as the shipped unit (ProtectSystem=strict) has /etc. It
// skips the test where namespaces or mounts are not permitted.
func readOnly(t *testing.T, b *box, dir string) {
	t.Helper()
	if out, err := exec.Command("unshare", "-m", "sh", "-c", `mount --bind -o ro "$1" "$1" && ! touch "$1/.probe" 2>/dev/null`, "sh", dir).CombinedOutput(); err != nil {
		t.Skipf("a read-only bind mount in a private mount namespace is not permitted here (unshare -m, mount --bind -o ro need root and CAP_SYS_ADMIN): %v %s", err, out)
	}
	b.wrap = func(args []string) []string {
		return append([]string{"unshare", "-m", "sh", "-c", `mount --bind -o ro "$1" "$1" && shift && exec "$@"`, "sh", dir}, args...)
	}
}

// mountedReadOnly reports whether dir is a read-only mount point in the
// mount namespace of process pid.
func mountedReadOnly(t *testing.T, pid int, dir string) bool {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	must.NoError(t, err)
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == dir && strings.HasPrefix(f[5], "ro") {
			return true
		}
	}
	return false
}

// TestIntegrationFleetReadOnlyEtc runs the real `edgegw run` with its
// configuration directory read-only, as under the shipped unit: a push, a
// local apply and a key rotation all work, their files go to the state
// directory in the form they were signed or given (mode 0640), the
// operator's file is never written, and `status` says which file runs. A
// document at or below a rolled-back version is rejected with its reason
// and audited. An operator who edits the file with a higher version takes
// over at the next start.
func TestIntegrationFleetReadOnlyEtc(t *testing.T) {
	b := newBox(t)
	etc := filepath.Join(b.dir, "etc")
	must.NoError(t, os.MkdirAll(etc, 0o755))
	opsPub, err := os.ReadFile(filepath.Join(b.dir, "ops", "ops.pub"))
	must.NoError(t, err)
	must.NoError(t, os.WriteFile(filepath.Join(etc, "ops.pub"), opsPub, 0o644))
	socket := filepath.Join(b.dir, "control.sock")
	// The operator's form: comments, a hex number, a size with its unit.
	form := func(v uint64, seed string) []byte {
		y := string(b.configYAML(v, "300ms", b.br.URL))
		y = strings.Replace(y, b.dir+"/ops/ops.pub", etc+"/ops.pub", 1)
		y = strings.Replace(y, `control: {socket: "off"}`, "control: {socket: "+socket+"}", 1)
		y = strings.Replace(y, "class: telemetry}", "class: telemetry, options: {seed: "+seed+"}}", 1)
		return []byte("# junction box 17, installed by the city\n" + y + "buffer: {max_bytes: 256MiB} # a day of outage\n")
	}
	b.path = filepath.Join(etc, "edgegw.yaml")
	operator := form(1, "0x76")
	must.NoError(t, os.WriteFile(b.path, operator, 0o644))
	readOnly(t, b, etc)
	b.watch(t)
	start := b.starter(t)
	cmd := start()
	stateDir := filepath.Join(b.dir, "state")
	applied := filepath.Join(stateDir, fleet.ConfigDir, fleet.AppliedFile)
	eventually(t, "status committed v1", func() bool { s := b.current(); return s.State == fleet.StateCommitted && s.Version == 1 })
	if !mountedReadOnly(t, cmd.Process.Pid, etc) {
		t.Fatalf("%s is not mounted read-only for the agent", etc)
	}

	// A push: applied in the state directory as signed.
	v2 := form(2, "0x77")
	b.push(t, 2, v2)
	eventually(t, "v2 committed", func() bool { s := b.current(); return s.State == fleet.StateCommitted && s.Version == 2 })
	checkFile := func(path string, want []byte, mode os.FileMode) {
		t.Helper()
		got, err := os.ReadFile(path)
		fi, serr := os.Stat(path)
		if err != nil || serr != nil || !bytes.Equal(got, want) || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v, mode %v, content:\n%s\nwant mode %v, content:\n%s", path, err, serr, fi.Mode().Perm(), got, mode, want)
		}
	}
	checkFile(applied, v2, 0o640)
	checkFile(filepath.Join(stateDir, fleet.ConfigDir, fleet.LastGoodFile), v2, 0o640)
	checkFile(b.path, operator, 0o644)
	if fi, err := os.Stat(filepath.Dir(applied)); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("%s: %v, %v; want mode 0750", filepath.Dir(applied), fi, err)
	}

	// A local apply, as given.
	cl := control.Dial(socket)
	ctx := context.Background()
	v3 := form(3, "0x78")
	eventually(t, "control socket up", func() bool { _, err := cl.Status(ctx); return err == nil })
	if _, err := cl.ApplyConfig(ctx, form(2, "0x79")); err == nil || !strings.Contains(err.Error(), "version 2 is not newer than the running version 2") {
		t.Errorf("apply of the running version: %v", err)
	}
	if v, err := cl.ApplyConfig(ctx, v3); err != nil || v != 3 {
		t.Fatalf("apply = %d, %v", v, err)
	}
	eventually(t, "v3 committed", func() bool { s := b.current(); return s.State == fleet.StateCommitted && s.Version == 3 })
	checkFile(applied, v3, 0o640)
	var st control.Status
	eventually(t, "status of the v3 agent", func() bool { st, err = cl.Status(ctx); return err == nil && st.ConfigVersion == 3 })
	if c := st.Config; c == nil || c.File != applied || c.Origin != fleet.OriginApplied || c.Operator != b.path ||
		!strings.Contains(c.Note, b.path+" (version 1) is not used: the applied version 3 is newer") {
		t.Errorf("status config = %+v", st.Config)
	}

	// A key rotation: the new set goes to the state directory.
	newKey, err := confsig.LoadOpsKey(b.otherOpsKey(t))
	must.NoError(t, err)
	rot, err := confsig.SignTrust(b.ops, 1, confsig.ForGateway("gw-001"), time.Time{}, time.Time{}, confsig.NewOpsTrust(newKey.Public()))
	must.NoError(t, err)
	b.publish(t, rot)
	eventually(t, "ops keys rotated", func() bool { return strings.Contains(b.current().Reason, "ops keys rotated to set version 1") })
	checkFile(filepath.Join(etc, "ops.pub"), opsPub, 0o644)
	rotated, err := confsig.LoadOpsPublic(filepath.Join(stateDir, fleet.ConfigDir, fleet.TrustFile))
	if err != nil || len(rotated) != 1 || rotated[newKey.Public().KID()].Key == nil {
		t.Fatalf("rotated trust: %v, %v", rotated, err)
	}
	b.ops = newKey
	b.push(t, 4, form(4, "0x7a"))
	eventually(t, "v4 signed by the new key committed", func() bool { s := b.current(); return s.State == fleet.StateCommitted && s.Version == 4 })

	// v5 polls a failing device and is rolled back; a later v5 (a different
	// document) is rejected, with its reason and an audit record.
	failing := bytes.Replace(form(5, "0x7b"), []byte("seed: 0x7b}"), []byte("seed: 0x7b, fail_every: 1}"), 1)
	b.push(t, 5, failing)
	poll.Until(t, 40*time.Second, "v5 rolled back", func() bool { s := b.current(); return s.State == fleet.StateRolledBack && s.Version == 4 })
	checkFile(applied, form(4, "0x7a"), 0o640)
	b.push(t, 5, form(5, "0x7c"))
	eventually(t, "a later v5 rejected", func() bool {
		s := b.current()
		return s.State == fleet.StateRejected && strings.Contains(s.Reason, "version 5: not-newer: version 5 was rolled back") && strings.Contains(s.Reason, "sign the fix as version 6 or higher")
	})
	eventually(t, "the rejection audited", func() bool {
		trail, err := cl.Audit(ctx, 100)
		if err != nil {
			return false
		}
		for _, e := range trail {
			if e.Action == "config.reject" && strings.Contains(e.Result, "version 5 was rolled back") {
				return true
			}
		}
		return false
	})

	// The operator takes over with a higher version in /etc.
	must.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	operator = form(9, "0x7d")
	must.NoError(t, os.WriteFile(b.path, operator, 0o644))
	start()
	// The v5 document retained on the broker arrives again and is refused
	// as older than the running v9; that rejection may be the last status.
	eventually(t, "the operator's v9 running", func() bool {
		s := b.current()
		return s.Version == 9 && (s.State == fleet.StateCommitted || s.State == fleet.StateRejected && strings.Contains(s.Reason, "version 5"))
	})
	eventually(t, "status of the v9 agent", func() bool { st, err = cl.Status(ctx); return err == nil && st.ConfigVersion == 9 })
	if c := st.Config; c == nil || c.File != b.path || c.Origin != fleet.OriginOperator {
		t.Errorf("status config = %+v", st.Config)
	}
	checkFile(filepath.Join(stateDir, fleet.ConfigDir, fleet.LastGoodFile), operator, 0o640)
}
