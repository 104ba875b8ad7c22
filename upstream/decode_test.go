package upstream

import (
	"encoding/json"
	"math/big"
	"reflect"
	"strconv"
	"strings"
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
	if wantErr != nil && gotErr == nil {
		// Decode reads a whole number written as a float (n: 3.0) as an
		// integer: encoding/json must read the body alike once every such
		// number is rewritten — found here by encoding/json's own parser
		// and big.Rat, not by the scanner Decode uses.
		if whole, ok := wholeOracle(b); ok {
			want = decodeRec{Attrs: map[string]string{}}
			wantErr = json.Unmarshal(whole, &want)
		}
	}
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

// A whole number written as a float is read as the integer it exactly is;
// any other number into an integer fails as before.
func TestDecodeReadsWholeNumbersWrittenAsFloats(t *testing.T) {
	type rec struct {
		S  string         `json:"s"`
		N  int            `json:"n"`
		L  []int64        `json:"l"`
		M  map[string]int `json:"m"`
		F  float64        `json:"f"`
		At int64          `json:"at"`
	}
	for _, tt := range []struct {
		body string
		want rec
		bad  bool
	}{
		{`{"n":1999.0,"l":[1.0,-2.00,3e2],"m":{"a":5.0},"f":2.5,"at":1763631000.0}`, rec{N: 1999, L: []int64{1, -2, 300}, M: map[string]int{"a": 5}, F: 2.5, At: 1763631000}, false},
		{`{"s":"1.0 \" 2.0","n":1E1}`, rec{S: `1.0 " 2.0`, N: 10}, false},
		{`{"n":1.5}`, rec{}, true},
		{`{"n":1e20}`, rec{}, true},
		{`{"n":2.9999999999999999}`, rec{}, true}, // a float64 would round it to 3
		{`{"n":1e-400}`, rec{}, true},
		{`{"n":-4.50e1,"at":9.223372036854775807e18}`, rec{N: -45, At: 9223372036854775807}, false},
		{`{"n":1e999999999}`, rec{}, true},
		{`{"n":"3.0"}`, rec{}, true},
	} {
		var got rec
		err := Decode([]byte(tt.body), &got)
		if (err != nil) != tt.bad {
			t.Errorf("%s: err = %v, want error %v", tt.body, err, tt.bad)
			continue
		}
		if !tt.bad && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %+v, want %+v", tt.body, got, tt.want)
		}
	}
}

// A body nested megabytes deep is refused with an error, as encoding/json
// refuses it; the fast decoder, which recurses without limit, would end
// the process with a stack overflow.
func TestDecodeRefusesDeepNestingWithoutCrashing(t *testing.T) {
	for _, open := range []string{"[", `{"a":`} {
		body := `{"data":` + strings.Repeat(open, 3_000_000)
		var env struct {
			Data Field[map[string]any] `json:"data"`
		}
		if err := Decode([]byte(body), &env); err == nil {
			t.Errorf("%q × 3 000 000: no error", open)
		}
	}
}

func TestNestedDeeperThan(t *testing.T) {
	for _, tt := range []struct {
		body string
		max  int
		want bool
	}{
		{`{"a":[1,{"b":2}]}`, 3, false},
		{`{"a":[1,{"b":2}]}`, 2, true},
		{`{"a":"[[[[[[{{{{"}`, 1, false},
		{`{"a":"\"[[[["}`, 1, false},
		{`{"a":"\\"}` + `[[`, 2, false},
		{`{"a":"\\"}` + `[[[`, 2, true},
		{`[][][][]`, 1, false},
		{``, 0, false},
	} {
		if got := nestedDeeperThan([]byte(tt.body), tt.max); got != tt.want {
			t.Errorf("nestedDeeperThan(%s, %d) = %v, want %v", tt.body, tt.max, got, tt.want)
		}
	}
}

// FuzzNestedDeeperThan compares the fast scan with a plain state machine.
func FuzzNestedDeeperThan(f *testing.F) {
	for _, b := range []string{`{"a":"\\\"[["}[[`, `[[["x\\"]]]`, `{"a":[{"b":"}"}]}`} {
		f.Add(b, 2)
	}
	f.Fuzz(func(t *testing.T, body string, max int) {
		if max < 0 || max > 100 {
			return
		}
		depth, deeper, inString, escaped := 0, false, false, false
		for _, c := range []byte(body) {
			switch {
			case inString && escaped:
				escaped = false
			case inString && c == '\\':
				escaped = true
			case inString && c == '"':
				inString = false
			case inString:
			case c == '"':
				inString = true
			case c == '[' || c == '{':
				if depth++; depth > max {
					deeper = true
				}
			case c == ']' || c == '}':
				depth--
			}
			if deeper {
				break
			}
		}
		if got := nestedDeeperThan([]byte(body), max); got != deeper {
			t.Errorf("nestedDeeperThan(%q, %d) = %v, the state machine says %v", body, max, got, deeper)
		}
	})
}

// wholeOracle rewrites, through a parse with json.Number, each number whose
// exact value is an int64 written with a fraction or an exponent within
// ±30 as that integer; ok reports whether it rewrote any.
func wholeOracle(b string) ([]byte, bool) {
	dec := json.NewDecoder(strings.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	changed := false
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case json.Number:
			s := t.String()
			if !strings.ContainsAny(s, ".eE") {
				return t
			}
			if k := strings.IndexAny(s, "eE"); k >= 0 {
				if e, err := strconv.Atoi(strings.TrimPrefix(s[k+1:], "+")); err != nil || e > 30 || e < -30 {
					return t
				}
			}
			if r, ok := new(big.Rat).SetString(s); ok && r.IsInt() && r.Num().IsInt64() {
				changed = true
				return json.Number(r.Num().String())
			}
		case map[string]any:
			for k, e := range t {
				t[k] = walk(e)
			}
		case []any:
			for i, e := range t {
				t[i] = walk(e)
			}
		}
		return x
	}
	v = walk(v)
	out, err := json.Marshal(v)
	return out, changed && err == nil
}
