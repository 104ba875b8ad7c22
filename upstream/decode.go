package upstream

import (
	"bytes"
	"encoding/json"
	"reflect"

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
// same value and the same error on any body.
//
// The fast decoder recurses without a depth limit, so a body nested
// deeper than encoding/json accepts (an upstream bug or a hostile answer:
// megabytes of "[") would overflow the goroutine's stack and end the
// process; such a body goes to encoding/json alone, which refuses it.
func Decode(data []byte, out any) error {
	if nestedDeeperThan(data, maxFastDepth) {
		return json.Unmarshal(data, out)
	}
	if err := fastjson.Unmarshal(data, out); err == nil {
		return nil
	}
	if v := reflect.ValueOf(out); v.Kind() == reflect.Pointer && !v.IsNil() {
		v.Elem().SetZero()
	}
	return json.Unmarshal(data, out)
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
			// Find the closing quote: one not preceded by an odd run of
			// backslashes.
			j := i + 1
			for {
				k := bytes.IndexByte(data[j:], '"')
				if k < 0 {
					return false
				}
				j += k
				n := 0
				for p := j - 1; p > i && data[p] == '\\'; p-- {
					n++
				}
				if n%2 == 0 {
					break
				}
				j++
			}
			i = j
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
