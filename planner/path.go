package planner

import (
	"reflect"
	"strings"
	"sync"
)

// values returns what the JSON path (dot-separated JSON names of the wire
// format; "" for rec itself) names in the upstream record rec: lists are
// flattened, nil pointers and absent fields give nothing. Records are the
// upstream packages' Go types; their json tags are the names.
func values(rec any, path string) []any {
	if rec == nil {
		return nil
	}
	cur := []reflect.Value{reflect.ValueOf(rec)}
	if path != "" {
		for _, name := range strings.Split(path, ".") {
			var next []reflect.Value
			for _, v := range cur {
				for _, e := range flatten(v) {
					if f, ok := field(e, name); ok {
						next = append(next, f)
					}
				}
			}
			cur = next
		}
	}
	var out []any
	for _, v := range cur {
		for _, e := range flatten(v) {
			out = append(out, e.Interface())
		}
	}
	return out
}

// flatten dereferences pointers and interfaces and spreads slices.
func flatten(v reflect.Value) []reflect.Value {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Slice || v.Kind() == reflect.Array {
		var out []reflect.Value
		for i := range v.Len() {
			out = append(out, flatten(v.Index(i))...)
		}
		return out
	}
	if !v.IsValid() {
		return nil
	}
	// Keep pointers to structs addressable-free: return the element value.
	return []reflect.Value{v}
}

// field returns the struct field of v whose json name is name.
func field(v reflect.Value, name string) (reflect.Value, bool) {
	if v.Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	idx, ok := jsonIndex(v.Type())[name]
	if !ok {
		return reflect.Value{}, false
	}
	return v.Field(idx), true
}

var indexCache sync.Map // reflect.Type → map[string]int

func jsonIndex(t reflect.Type) map[string]int {
	if m, ok := indexCache.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = i
	}
	indexCache.Store(t, m)
	return m
}
