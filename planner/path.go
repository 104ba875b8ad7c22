package planner

import (
	"reflect"
	"strings"
	"sync"
)

// each calls yield, in order, with each value that the JSON path
// (dot-separated JSON names of the wire format; "" for rec itself) names in
// the upstream record rec, until yield returns false, and reports whether
// it never did: lists are flattened, nil pointers and absent fields give
// nothing. Records are the upstream packages' Go types; their json tags
// are the names.
func each(rec any, path string, yield func(reflect.Value) bool) bool {
	if rec == nil {
		return true
	}
	return walk(reflect.ValueOf(rec), path, yield)
}

// walk dereferences pointers and interfaces, spreads lists, and follows
// path into v.
func walk(v reflect.Value, path string, yield func(reflect.Value) bool) bool {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return true
		}
		v = v.Elem()
	}
	switch {
	case !v.IsValid():
		return true
	case v.Kind() == reflect.Slice || v.Kind() == reflect.Array:
		for i := range v.Len() {
			if !walk(v.Index(i), path, yield) {
				return false
			}
		}
		return true
	case path == "":
		return yield(v)
	}
	name, rest, _ := strings.Cut(path, ".")
	if f, ok := field(v, name); ok {
		return walk(f, rest, yield)
	}
	return true
}

// keyOf is the string of a key value: a string as it is, a number as
// fmt prints it, nothing for nil.
func keyOf(v reflect.Value) string {
	if v.Kind() == reflect.String {
		return v.String()
	}
	return keyString(v.Interface())
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
