package gqlhttp

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// resultBody.encode writes the same JSON as json.Marshal for every
// combination of members, with the executor's data copied byte for byte
// (json.Marshal would also HTML-escape <, > and & in it: the same JSON).
func TestResultBodyEncodeIsJSONMarshal(t *testing.T) {
	errs := gqlerror.List{{Message: "x <y> & \u2028", Path: ast.Path{ast.PathName("a"), ast.PathIndex(1)}, Extensions: map[string]any{"code": "UPSTREAM_ERROR", "service": "shipping"}}}
	for _, b := range []resultBody{
		{},
		{Data: json.RawMessage(`{"a":[1,{"b":"<c>"}]}`)},
		{Data: json.RawMessage(`null`), Errors: errs},
		{Errors: errs},
		{Data: json.RawMessage(`{}`), Extensions: map[string]any{"plan": map[string]any{"z": 1, "a": []string{"x"}}}},
		{Data: json.RawMessage(`{"a":1}`), Errors: errs, Extensions: map[string]any{"cache": map[string]any{"stale": 2}}},
	} {
		want, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.encode()
		var g, w any
		if err != nil || json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil || !reflect.DeepEqual(g, w) {
			t.Errorf("encode() = %s, %v\njson.Marshal gives %s", got, err, want)
		}
		if len(b.Data) > 0 && !bytes.Contains(got, []byte(`"data":`+string(b.Data))) {
			t.Errorf("encode() = %s: data not copied as it is", got)
		}
	}
	if _, err := (resultBody{Data: json.RawMessage(`{}`), Extensions: map[string]any{"bad": func() {}}}).encode(); err == nil {
		t.Error("an extension that cannot be encoded gave no error")
	}
}
