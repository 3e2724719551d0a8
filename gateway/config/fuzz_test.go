package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/edgegw/edgegw/internal/must"
)

// FuzzParse checks that Parse never panics and that every configuration it
// accepts survives Canonical and Parse unchanged.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yaml")
	must.NoError(f, err)
	examples, _ := filepath.Glob("../../configs/*.yaml")
	for _, file := range append(files, examples...) {
		data, err := os.ReadFile(file)
		must.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(base))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			return
		}
		roundTrip(t, c)
	})
}
