package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSchemaRefusesBadTags: a field the schema cannot decode, check or
// encode stops the package from starting, naming the field, rather than
// being left out of the file silently.
func TestSchemaRefusesBadTags(t *testing.T) {
	type untagged struct{ A string }
	type unknownCheck struct {
		A string `yaml:"a" check:"required,nosuch"`
	}
	type badBound struct {
		A time.Duration `yaml:"a" range:"1s..soon"`
	}
	type noBounds struct {
		A string `yaml:"a" min:"1"`
	}
	type noKind struct {
		A float64 `yaml:"a"`
	}
	type noSibling struct {
		A time.Duration `yaml:"a" atleast:"b"`
	}
	tests := []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[untagged](), "untagged.A has no yaml tag"},
		{reflect.TypeFor[unknownCheck](), `unknownCheck.A: unknown check "nosuch"`},
		{reflect.TypeFor[badBound](), `badBound.A: bound "soon"`},
		{reflect.TypeFor[noBounds](), "noBounds.A: bound \"1\": string fields have no bounds"},
		{reflect.TypeFor[noKind](), "field A of type float64 has no kind"},
		{reflect.TypeFor[noSibling](), `noSibling.A: atleast names no field "b"`},
	}
	for _, tt := range tests {
		t.Run(tt.typ.Name(), func(t *testing.T) {
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, tt.want) {
					t.Errorf("schemaOf panicked with %v, want %q", r, tt.want)
				}
			}()
			schemaOf(tt.typ)
		})
	}
}
