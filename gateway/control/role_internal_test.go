package control

import (
	"slices"
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name, in   string
		euid, egid uint32
		groups     []uint32
		wantErr    string
	}{
		{name: "typical", in: "Name:\tedgegw\nUid:\t1000\t1001\t1000\t1001\nGid:\t100\t101\t100\t101\nFDSize:\t64\nGroups:\t4 24 900 \n", euid: 1001, egid: 101, groups: []uint32{4, 24, 900}},
		{name: "no supplementary groups", in: "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n", groups: nil},
		{name: "no groups line", in: "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n", wantErr: "no Uid, Gid or Groups line"},
		{name: "bad group", in: "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t4 x\n", wantErr: "bad Groups line"},
		{name: "short uid line", in: "Uid:\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n", wantErr: "bad Uid line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := parseStatus([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || st.euid != tt.euid || st.egid != tt.egid || !slices.Equal(st.groups, tt.groups) {
				t.Errorf("parseStatus = %+v, %v; want euid %d egid %d groups %v", st, err, tt.euid, tt.egid, tt.groups)
			}
		})
	}
}
