package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"reflect"
	"strconv"
	"strings"

	fastjson "github.com/segmentio/encoding/json"
)

// Decode reads a JSON body into out (a pointer). Upstream answers are the
// bulk of the gateway's decoding work, so the fast decoder of
// github.com/segmentio/encoding (a drop-in for encoding/json, four to five
// times faster on the services' records) reads them first. When it fails,
// encoding/json decodes the same bytes again into a zeroed out and its
// answer stands: a malformed body is reported exactly as the standard
// library reports it (offsets included), and a body only the fast decoder
// rejects is still read. FuzzDecodeAgrees checks that the two give the
// same value and the same error on any body. Where encoding/json fails
// only because a whole number is written as a float (1999.0, 1e3) for an
// integer, the body is read with such numbers as integers.
//
// The fast decoder recurses without a depth limit, so a body nested
// deeper than encoding/json accepts (an upstream bug or a hostile answer:
// megabytes of "[") would overflow the goroutine's stack and end the
// process; such a body goes to encoding/json alone, which refuses it.
func Decode(data []byte, out any) error {
	if nestedDeeperThan(data, maxFastDepth) {
		zero(out) // as after a failed fast decode: out is the standard library's alone
		return json.Unmarshal(data, out)
	}
	if err := fastjson.Unmarshal(data, out); err == nil {
		return nil
	}
	zero(out)
	err := json.Unmarshal(data, out)
	// A whole number written as a float (1999.0, 1e3) is a JSON number
	// like any other, and a service written with floats may send one where
	// the contract has an integer: read as the integer it is.
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && strings.HasPrefix(te.Value, "number") {
		if whole, ok := wholeNumbers(data); ok {
			zero(out)
			if json.Unmarshal(whole, out) == nil {
				return nil
			}
			zero(out)
			_ = json.Unmarshal(data, out) // the answer that stands
		}
	}
	return err
}

func zero(out any) {
	if v := reflect.ValueOf(out); v.Kind() == reflect.Pointer && !v.IsNil() {
		v.Elem().SetZero()
	}
}

// wholeNumbers rewrites the numbers of the JSON text data that are whole
// but written with a fraction or an exponent (1999.0, 2e1) as integers,
// where their exact value fits an int64 (wholeNumber); ok reports whether
// it changed any. Strings are left alone.
func wholeNumbers(data []byte) (_ []byte, ok bool) {
	var out []byte
	last := 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == '"' {
			i = stringEnd(data, i)
			if i < 0 {
				return nil, false
			}
			continue
		}
		if c != '-' && (c < '0' || c > '9') {
			continue
		}
		j := i
		for j < len(data) && strings.IndexByte("+-0123456789.eE", data[j]) >= 0 {
			j++
		}
		if n, ok := wholeNumber(data[i:j]); ok {
			out = append(out, data[last:i]...)
			out = strconv.AppendInt(out, n, 10)
			last = j
		}
		i = j - 1
	}
	if out == nil {
		return nil, false
	}
	return append(out, data[last:]...), true
}

// wholeNumber reads a number written with a fraction or an exponent whose
// exact decimal value is a whole number that fits an int64 (2.0, 1e3,
// -4.50e1), and only such a number: 2.9999999999999999, which a float64
// would round to 3, is not one. Exponents beyond ±30 are left alone (no
// int64 needs them, and an exact value of 1e999999 would be huge).
func wholeNumber(tok []byte) (int64, bool) {
	if !bytes.ContainsAny(tok, ".eE") {
		return 0, false
	}
	if k := bytes.IndexAny(tok, "eE"); k >= 0 {
		if e, err := strconv.Atoi(strings.TrimPrefix(string(tok[k+1:]), "+")); err != nil || e > 30 || e < -30 {
			return 0, false
		}
	}
	r, ok := new(big.Rat).SetString(string(tok))
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	return r.Num().Int64(), true
}

// stringEnd returns the index of the quote that closes the JSON string
// opening at data[i], or -1.
func stringEnd(data []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(data[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		n := 0
		for p := j - 1; p > i && data[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j
		}
		j++
	}
}

// maxFastDepth is the deepest nesting the fast decoder is given; the
// services' records nest a handful of levels. encoding/json's own limit
// is 10 000.
const maxFastDepth = 64

// nestedDeeperThan reports whether the JSON text data opens more than max
// arrays or objects inside one another (brackets inside strings do not
// count). It does not validate; one pass, no allocation, strings skipped
// with bytes.IndexByte.
func nestedDeeperThan(data []byte, max int) bool {
	depth := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			if i = stringEnd(data, i); i < 0 {
				return false
			}
		case '[', '{':
			if depth++; depth > max {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}
