package option

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	got, err := ParseArgs([]string{"addr=0x76", "gain=2", "vref=3.3", "average=true", "mode=single", "name=a=b", "empty="})
	want := map[string]any{"addr": int64(0x76), "gain": int64(2), "vref": 3.3, "average": true, "mode": "single", "name": "a=b", "empty": ""}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseArgs = %#v, %v; want %#v", got, err, want)
	}
	// The typed values read back through a Set as configuration values do.
	o := New(got)
	if a, g, v := o.Int("addr", 0, 0, 0x7f), o.Int("gain", 0, 0, 16), o.Number("vref", 0); a != 0x76 || g != 2 || v != 3.3 || o.Bool("average", false) != true {
		t.Errorf("read back addr %#x gain %d vref %v", a, g, v)
	}
	for _, bad := range []string{"vref", "=3.3"} {
		if _, err := ParseArgs([]string{"gain=2", bad}); err == nil || !strings.Contains(err.Error(), `"`+bad+`" is not key=value`) {
			t.Errorf("ParseArgs(%q) = %v, want an error naming the pair", bad, err)
		}
	}
}
