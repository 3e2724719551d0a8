package control_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/edgegw/edgegw/gateway/control"
	"github.com/edgegw/edgegw/gateway/control/controltest"
	"github.com/edgegw/edgegw/internal/must"
)

const childEnv = "EDGEGW_CONTROL_TEST_SOCKET"

// TestHelperChild is not a test: TestIntegrationPeerRoles runs this test
// binary as another user, and this calls the server as that user.
func TestHelperChild(t *testing.T) {
	path := os.Getenv(childEnv)
	if path == "" {
		t.Skip("helper process only")
	}
	c := control.Dial(path)
	who, err := c.WhoAmI(context.Background())
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	_, ferr := c.Flush(context.Background())
	b, _ := json.Marshal(who)
	fmt.Printf("%s flush=%v\n", b, ferr)
}

// systemGroups returns three distinct groups of this machine other than
// root's and nogroup, from /etc/group.
func systemGroups(t *testing.T) (names []string, gids []uint32) {
	f, err := os.Open("/etc/group")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(names) < 3 {
		p := strings.Split(sc.Text(), ":")
		if len(p) < 3 {
			continue
		}
		gid, err := strconv.ParseUint(p[2], 10, 32)
		if err != nil || gid == 0 || gid >= 65534 {
			continue
		}
		names = append(names, p[0])
		gids = append(gids, uint32(gid))
	}
	if len(names) < 3 {
		t.Skip("fewer than three groups in /etc/group")
	}
	return names, gids
}

// TestIntegrationPeerRoles runs clients as another uid with chosen groups,
// against a server using the real credential check (SO_PEERCRED,
// /proc/<pid>/status, /etc/group). It needs root to switch users.
func TestIntegrationPeerRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run clients as other users")
	}
	names, gids := systemGroups(t)
	viewer, tech, admin := gids[0], gids[1], gids[2]

	// A directory the other user can reach, holding a copy of this binary.
	dir := controltest.SocketDir(t)
	must.NoError(t, os.Chmod(dir, 0o755))
	self, err := os.Open("/proc/self/exe")
	must.NoError(t, err)
	bin := filepath.Join(dir, "control.test")
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err == nil {
		_, err = io.Copy(out, self)
		out.Close()
	}
	self.Close()
	must.NoError(t, err)

	path := filepath.Join(dir, "control.sock")
	audit := &controltest.Auditor{}
	controltest.Serve(t, control.NewServer(fakeAgent(), audit, control.Options{
		Roles: control.Roles{ViewerGroup: names[0], TechnicianGroup: names[1], AdminGroup: names[2]},
	}), path)
	if fi, err := os.Stat(path); err != nil || fi.Sys().(*syscall.Stat_t).Gid != viewer {
		t.Fatalf("socket not given to the viewer group %s: %v", names[0], err)
	}

	tests := []struct {
		name   string
		gid    uint32
		groups []uint32
		want   string
	}{
		{"not in the viewer group", 65534, nil, "permission denied on the control socket " + path + ": join group " + names[0]},
		{"viewer", 65534, []uint32{viewer}, `"role":"viewer"} flush=buffer.flush needs the technician role (group ` + names[1] + `); you are viewer`},
		{"technician", 65534, []uint32{viewer, tech}, `"role":"technician"} flush=<nil>`},
		{"technician by primary group", tech, []uint32{viewer}, `"role":"technician"} flush=<nil>`},
		{"admin", 65534, []uint32{admin, viewer}, `"role":"admin"} flush=<nil>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, "-test.run=^TestHelperChild$", "-test.v")
			cmd.Env = append(os.Environ(), childEnv+"="+path)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: tt.gid, Groups: tt.groups}}
			b, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(b), tt.want) {
				t.Errorf("client as uid 65534 gid %d groups %v: %v\n%s\nwant %q", tt.gid, tt.groups, err, b, tt.want)
			}
			if tt.groups != nil && !strings.Contains(string(b), `"uid":65534,"gid":`+strconv.Itoa(int(tt.gid))) {
				t.Errorf("server did not see uid 65534 gid %d: %s", tt.gid, b)
			}
		})
	}
	var denied, flushed int
	for _, e := range audit.Events() {
		if e.UID != 65534 || e.Process != "control.test" {
			t.Errorf("event %+v: want uid 65534, process control.test", e)
		}
		switch e.Result {
		case "denied: needs technician":
			denied++
		case "ok":
			flushed++
		}
	}
	if denied != 1 || flushed != 3 {
		t.Errorf("audit: %d denials and %d flushes, want 1 and 3: %+v", denied, flushed, audit.Events())
	}
}
