package control_test

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strings"
	"testing"

	"github.com/edgegw/edgegw/internal/must"

	"golang.org/x/sys/unix"

	"github.com/edgegw/edgegw/gateway/control"
)

func TestRoles(t *testing.T) {
	// The system's groups, as the injected lookup sees them.
	system := map[string]uint32{"edgegw": 900, "edgegw-tech": 901, "edgegw-admin": 902, "ops": 950, "ops-tech": 951}
	lookup := func(name string) (uint32, error) {
		if gid, ok := system[name]; ok {
			return gid, nil
		}
		return 0, user.UnknownGroupError(name)
	}
	tests := []struct {
		name   string
		roles  control.Roles
		uid    uint32
		groups []uint32 // primary first
		groupErr,
		lookupErr error
		want    control.Role
		wantErr string
	}{
		{name: "root", uid: 0, groups: []uint32{0}, want: control.RoleAdmin},
		{name: "root needs no group lookup", uid: 0, groupErr: errors.New("no /proc"), want: control.RoleAdmin},
		{name: "admin member", uid: 1000, groups: []uint32{1000, 900, 902}, want: control.RoleAdmin},
		{name: "technician member", uid: 1000, groups: []uint32{1000, 900, 901}, want: control.RoleTechnician},
		{name: "technician wins over viewer in any order", uid: 1000, groups: []uint32{1000, 901, 900}, want: control.RoleTechnician},
		{name: "viewer member", uid: 1000, groups: []uint32{1000, 27, 900}, want: control.RoleViewer},
		{name: "primary group counts", uid: 1001, groups: []uint32{901}, want: control.RoleTechnician},
		{name: "nobody", uid: 65534, groups: []uint32{65534}, want: control.RoleNone},
		{name: "member of other groups only", uid: 1000, groups: []uint32{1000, 4, 24, 27}, want: control.RoleNone},
		{name: "configured group names", roles: control.Roles{ViewerGroup: "ops", TechnicianGroup: "ops-tech"}, uid: 1000, groups: []uint32{1000, 951}, want: control.RoleTechnician},
		{name: "default names not used when configured", roles: control.Roles{ViewerGroup: "ops", TechnicianGroup: "ops-tech"}, uid: 1000, groups: []uint32{1000, 901}, want: control.RoleNone},
		{name: "missing admin group grants nothing", roles: control.Roles{AdminGroup: "no-such-group"}, uid: 1000, groups: []uint32{1000, 900}, want: control.RoleViewer},
		{name: "groups unreadable", uid: 1000, groupErr: errors.New("pid reused"), want: control.RoleNone, wantErr: "pid reused"},
		{name: "group database broken", uid: 1000, groups: []uint32{900}, lookupErr: errors.New("/etc/group: permission denied"), want: control.RoleNone, wantErr: "look up group edgegw-admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.roles
			var asked unix.Ucred
			r.Groups = func(c unix.Ucred) ([]uint32, error) { asked = c; return tt.groups, tt.groupErr }
			r.LookupGroup = lookup
			if tt.lookupErr != nil {
				r.LookupGroup = func(string) (uint32, error) { return 0, tt.lookupErr }
			}
			cred := unix.Ucred{Pid: 4242, Uid: tt.uid, Gid: 1}
			got, err := r.Role(cred)
			if got != tt.want || (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Role = %v, %v; want %v, error %q", got, err, tt.want, tt.wantErr)
			}
			if tt.uid != 0 && asked != cred {
				t.Errorf("Groups asked for %+v, want %+v", asked, cred)
			}
		})
	}
}

func TestRoleString(t *testing.T) {
	for r, want := range map[control.Role]string{control.RoleNone: "none", control.RoleViewer: "viewer", control.RoleTechnician: "technician", control.RoleAdmin: "admin"} {
		if r.String() != want {
			t.Errorf("%d.String() = %q, want %q", r, r.String(), want)
		}
	}
}

// TestProcGroups reads this test process's own groups the way the server
// reads a caller's.
func TestProcGroups(t *testing.T) {
	self := unix.Ucred{Pid: int32(os.Getpid()), Uid: uint32(os.Geteuid()), Gid: uint32(os.Getegid())}
	got, err := control.ProcGroups(self)
	must.NoError(t, err)
	sup, err := os.Getgroups()
	must.NoError(t, err)
	want := []uint32{self.Gid}
	for _, g := range sup {
		want = append(want, uint32(g))
	}
	if !slices.Equal(got, want) {
		t.Errorf("ProcGroups = %v, want %v", got, want)
	}

	// A pid now running as someone else is refused, not trusted.
	other := self
	other.Uid++
	if _, err := control.ProcGroups(other); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("process %d now runs as uid %d", self.Pid, self.Uid)) {
		t.Errorf("ProcGroups with another uid = %v, want a refusal", err)
	}

	// A process that is gone keeps only its primary group.
	gone := unix.Ucred{Pid: 1 << 30, Uid: 1000, Gid: 1000}
	if got, err := control.ProcGroups(gone); err != nil || !slices.Equal(got, []uint32{1000}) {
		t.Errorf("ProcGroups of a gone process = %v, %v; want [1000]", got, err)
	}
}
