package schema

import (
	"os"
	"slices"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestSurfaceMatchesTheContract checks that the schema serves exactly the
// public surface of the contract (testdata/contract.graphql, a copy of
// spec/schema.graphql): the same types, fields, arguments, defaults, enum
// values and input fields, with nothing renamed, retyped, missing or added.
func TestSurfaceMatchesTheContract(t *testing.T) {
	raw, err := os.ReadFile("testdata/contract.graphql")
	if err != nil {
		t.Fatal(err)
	}
	want, gerr := gqlparser.LoadSchema(&ast.Source{Name: "contract.graphql", Input: string(raw)})
	if gerr != nil {
		t.Fatalf("contract: %v", gerr)
	}
	got, gerr := gqlparser.LoadSchema(Sources()...)
	if gerr != nil {
		t.Fatalf("schema: %v", gerr)
	}
	for name, w := range want.Types {
		if w.BuiltIn {
			continue
		}
		g := got.Types[name]
		if g == nil {
			t.Errorf("type %s is missing", name)
			continue
		}
		if g.Kind != w.Kind {
			t.Errorf("type %s is %s, want %s", name, g.Kind, w.Kind)
		}
		if !slices.Equal(enumValues(g), enumValues(w)) {
			t.Errorf("enum %s values = %v, want %v", name, enumValues(g), enumValues(w))
		}
		if len(g.Fields) != len(w.Fields) {
			t.Errorf("type %s has %d fields, want %d", name, len(g.Fields), len(w.Fields))
		}
		for _, wf := range w.Fields {
			gf := g.Fields.ForName(wf.Name)
			if gf == nil {
				t.Errorf("%s.%s is missing", name, wf.Name)
				continue
			}
			if gf.Type.String() != wf.Type.String() {
				t.Errorf("%s.%s is %s, want %s", name, wf.Name, gf.Type, wf.Type)
			}
			if len(gf.Arguments) != len(wf.Arguments) {
				t.Errorf("%s.%s has %d arguments, want %d", name, wf.Name, len(gf.Arguments), len(wf.Arguments))
			}
			for _, wa := range wf.Arguments {
				ga := gf.Arguments.ForName(wa.Name)
				switch {
				case ga == nil:
					t.Errorf("%s.%s(%s) is missing", name, wf.Name, wa.Name)
				case ga.Type.String() != wa.Type.String():
					t.Errorf("%s.%s(%s) is %s, want %s", name, wf.Name, wa.Name, ga.Type, wa.Type)
				case valueString(ga.DefaultValue) != valueString(wa.DefaultValue):
					t.Errorf("%s.%s(%s) defaults to %s, want %s", name, wf.Name, wa.Name, valueString(ga.DefaultValue), valueString(wa.DefaultValue))
				}
			}
		}
	}
	for name, g := range got.Types {
		if !g.BuiltIn && want.Types[name] == nil {
			t.Errorf("type %s is not in the contract", name)
		}
	}
}

func enumValues(d *ast.Definition) []string {
	var out []string
	for _, v := range d.EnumValues {
		out = append(out, v.Name)
	}
	slices.Sort(out)
	return out
}

func valueString(v *ast.Value) string {
	if v == nil {
		return "<none>"
	}
	return v.String()
}
