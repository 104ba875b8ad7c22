package upstream

import (
	"encoding/json"
	"reflect"
	"testing"
)

type decodeRec struct {
	ID    string            `json:"id"`
	N     int               `json:"n"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
	Env   Field[[]int]      `json:"env"`
}

// Decode answers what encoding/json answers, body for body: the same
// value for a valid body, the same error (offsets included) for a bad one.
func TestDecodeAgreesWithTheStandardLibrary(t *testing.T) {
	bodies := []string{
		`{"id":"a","n":3,"tags":["x","y"],"attrs":{"k":"v"},"env":[1,2]}`,
		`{"id":"a","env":null}`,
		`{"id":"\u00e9\ud83d\ude00","n":-0}`,
		`{"id":"a","n":"3"}`,
		`{"id":"a","n":3.5}`,
		`{"id":"a","tags":{"x":1}}`,
		`{"id":"a",}`,
		`{"id":"a"`,
		`not json`,
		`{"id":"a"} trailing`,
		`{"attrs":{"k":"v","k2":`,
		`[]`,
		`null`,
	}
	for _, b := range bodies {
		checkDecode(t, b)
	}
}

// FuzzDecodeAgrees looks for a body on which the two decoders disagree.
func FuzzDecodeAgrees(f *testing.F) {
	for _, b := range []string{`{"id":"a","n":3,"tags":["x"],"attrs":{"k":"v"},"env":[1]}`, `{"env":null}`, `{"id":1}`} {
		f.Add(b)
	}
	f.Fuzz(checkDecode)
}

func checkDecode(t *testing.T, b string) {
	t.Helper()
	want := decodeRec{Attrs: map[string]string{}}
	wantErr := json.Unmarshal([]byte(b), &want)
	// Prefilled, as a reused record would be: the fallback must not
	// keep what the fast decoder wrote before it failed.
	got := decodeRec{Attrs: map[string]string{}}
	gotErr := Decode([]byte(b), &got)
	if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
		t.Errorf("%s: error %v, encoding/json says %v", b, gotErr, wantErr)
		return
	}
	if wantErr != nil {
		want = decodeRec{}
		_ = json.Unmarshal([]byte(b), &want)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: decoded %+v, encoding/json gives %+v", b, got, want)
	}
}
