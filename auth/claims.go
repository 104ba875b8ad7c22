package auth

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// claims are the JWT claims the gateway reads. Registered time claims are
// validated by jwt's parser; sub is checked by Verify.
type claims struct {
	jwt.RegisteredClaims
	Scope scopeClaim `json:"scope,omitempty"`
}

// scopeClaim is the "scope" claim: a space-separated string (RFC 8693 §4.2),
// or, as some issuers write it, a JSON array of strings. Absent or null means
// no scopes. Any other JSON type makes the token malformed.
type scopeClaim []string

var errScopeType = errors.New("scope is neither a string nor an array of strings")

// UnmarshalJSON implements json.Unmarshaler.
func (s *scopeClaim) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var out []string
	switch v := v.(type) {
	case nil:
	case string:
		out = strings.Fields(v)
	case []any:
		for _, e := range v {
			str, ok := e.(string)
			if !ok {
				return errScopeType
			}
			if str = strings.TrimSpace(str); str != "" {
				out = append(out, str)
			}
		}
	default:
		return errScopeType
	}
	*s = out
	return nil
}

// MarshalJSON implements json.Marshaler: the space-separated form.
func (s scopeClaim) MarshalJSON() ([]byte, error) {
	return json.Marshal(strings.Join(s, " "))
}
