package control

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/edgegw/edgegw/gateway/config"
	"golang.org/x/sys/unix"
)

// Role is what a caller may do. Roles are ordered: each includes the ones
// below it.
type Role int

// Roles, lowest first.
const (
	RoleNone Role = iota
	RoleViewer
	RoleTechnician
	RoleAdmin
)

// String returns the role's name: none, viewer, technician or admin.
func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleTechnician:
		return "technician"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// Default group names of the roles: the configuration's defaults of
// control.viewer_group, technician_group and admin_group.
const (
	DefaultViewerGroup     = config.DefaultViewerGroup
	DefaultTechnicianGroup = config.DefaultTechGroup
	DefaultAdminGroup      = config.DefaultAdminGroup
)

// Roles decides a caller's role from its credentials: uid 0 is admin;
// otherwise the highest role whose group the caller belongs to (its primary
// group or a supplementary one), or RoleNone. A group that does not exist on
// the system grants nothing.
type Roles struct {
	// ViewerGroup, TechnicianGroup and AdminGroup name the groups of the
	// roles; empty means the Default… name.
	ViewerGroup, TechnicianGroup, AdminGroup string
	// Groups returns the caller's group ids, primary first; nil means
	// ProcGroups. Tests inject groups here.
	Groups func(cred unix.Ucred) ([]uint32, error)
	// LookupGroup returns a group's id by name, and an error wrapping
	// user.UnknownGroupError when there is no such group; nil means
	// os/user.LookupGroup (pure Go: /etc/group).
	LookupGroup func(name string) (uint32, error)
}

// Role returns the caller's role. An error means the role could not be
// decided; the caller must then be treated as RoleNone.
func (r Roles) Role(cred unix.Ucred) (Role, error) {
	if cred.Uid == 0 {
		return RoleAdmin, nil
	}
	groups := r.Groups
	if groups == nil {
		groups = ProcGroups
	}
	gids, err := groups(cred)
	if err != nil {
		return RoleNone, err
	}
	lookup := r.LookupGroup
	if lookup == nil {
		lookup = lookupGroup
	}
	for _, g := range []struct {
		name string
		role Role
	}{
		{or(r.AdminGroup, DefaultAdminGroup), RoleAdmin},
		{or(r.TechnicianGroup, DefaultTechnicianGroup), RoleTechnician},
		{or(r.ViewerGroup, DefaultViewerGroup), RoleViewer},
	} {
		gid, err := lookup(g.name)
		var unknown user.UnknownGroupError
		if errors.As(err, &unknown) {
			continue
		}
		if err != nil {
			return RoleNone, fmt.Errorf("look up group %s: %w", g.name, err)
		}
		for _, have := range gids {
			if have == gid {
				return g.role, nil
			}
		}
	}
	return RoleNone, nil
}

// group returns the group name that grants role, for messages.
func (r Roles) group(role Role) string {
	switch role {
	case RoleAdmin:
		return or(r.AdminGroup, DefaultAdminGroup)
	case RoleTechnician:
		return or(r.TechnicianGroup, DefaultTechnicianGroup)
	}
	return or(r.ViewerGroup, DefaultViewerGroup)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func lookupGroup(name string) (uint32, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, err
	}
	id, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("group %s: bad gid %q", name, g.Gid)
	}
	return uint32(id), nil
}

// procDir is /proc; a variable so that tests can point it at testdata.
var procDir = "/proc"

// ProcGroups returns the caller's primary group (from the kernel-verified
// credentials) followed by its supplementary groups, read from the
// `Groups:` line of /proc/<pid>/status, which the kernel maintains. It
// checks that the process's effective uid and gid there are still the ones
// the kernel reported for the socket, so that a pid reused by another
// user's process is refused rather than trusted.
//
// When /proc/<pid> cannot be read (the caller exited, or /proc is mounted
// with hidepid), it returns the primary group only: that can only lower the
// caller's role, never raise it.
func ProcGroups(cred unix.Ucred) ([]uint32, error) {
	gids := []uint32{cred.Gid}
	data, err := os.ReadFile(fmt.Sprintf("%s/%d/status", procDir, cred.Pid))
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
		return gids, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := parseStatus(data)
	if err != nil {
		return nil, fmt.Errorf("/proc/%d/status: %w", cred.Pid, err)
	}
	if st.euid != cred.Uid || st.egid != cred.Gid {
		return nil, fmt.Errorf("process %d now runs as uid %d gid %d, not uid %d gid %d as when it connected", cred.Pid, st.euid, st.egid, cred.Uid, cred.Gid)
	}
	return append(gids, st.groups...), nil
}

type procStatus struct {
	euid, egid uint32
	groups     []uint32
}

// parseStatus reads the Uid, Gid and Groups lines of a /proc/<pid>/status.
func parseStatus(data []byte) (procStatus, error) {
	var st procStatus
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		switch key {
		case "Uid", "Gid":
			if len(f) < 2 {
				return st, fmt.Errorf("bad %s line", key)
			}
			id, err := strconv.ParseUint(f[1], 10, 32) // effective id
			if err != nil {
				return st, fmt.Errorf("bad %s line: %w", key, err)
			}
			if key == "Uid" {
				st.euid = uint32(id)
			} else {
				st.egid = uint32(id)
			}
			seen++
		case "Groups":
			for _, s := range f {
				id, err := strconv.ParseUint(s, 10, 32)
				if err != nil {
					return st, fmt.Errorf("bad Groups line: %w", err)
				}
				st.groups = append(st.groups, uint32(id))
			}
			seen++
		}
	}
	if seen != 3 {
		return st, errors.New("no Uid, Gid or Groups line")
	}
	return st, nil
}

// procName returns the process's executable name from /proc/<pid>/comm, or
// "?" when it cannot be read.
func procName(pid int32) string {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/comm", procDir, pid))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
