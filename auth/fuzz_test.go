package auth

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds arbitrary strings to an HS256 verifier. Properties: Verify
// never panics; it accepts only with a non-empty subject; every refusal wraps
// ErrInvalidToken and reads as one of a fixed set of messages, so nothing of
// the input reaches an error message.
func FuzzVerify(f *testing.F) {
	for _, s := range []string{
		"", "abc", "a.b.c", "!!!.@@@.###",
		sign(f, jwt.SigningMethodHS256, testSecret, nil, claimsAt(func(c jwt.MapClaims) { c["scope"] = "support" })),
		sign(f, jwt.SigningMethodHS256, testSecret, map[string]any{"kid": "x"}, claimsAt(func(c jwt.MapClaims) { c["scope"] = []string{"a"} })),
		sign(f, jwt.SigningMethodHS512, testSecret, nil, claimsAt(nil)),
		sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, claimsAt(nil)),
	} {
		f.Add(s)
	}
	v, err := NewVerifier(f.Context(), Options{HS256Secret: testSecret, Now: func() time.Time { return testNow }})
	if err != nil {
		f.Fatal(err)
	}
	defer v.Close()

	allowed := map[string]bool{}
	for _, r := range []error{
		errTooLong, errAlgorithm, errNoKey,
		jwt.ErrTokenMalformed, jwt.ErrTokenSignatureInvalid, jwt.ErrTokenExpired,
		jwt.ErrTokenNotValidYet, jwt.ErrTokenInvalidClaims,
		fmt.Errorf("%w: sub", jwt.ErrTokenRequiredClaimMissing),
	} {
		allowed[refuse(r).Error()] = true
	}

	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(t.Context(), token)
		if err != nil {
			if p != nil {
				t.Fatalf("principal %+v with error %v", p, err)
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %q does not wrap ErrInvalidToken", err)
			}
			if !allowed[err.Error()] {
				t.Fatalf("error %q is not one of the fixed messages", err)
			}
			return
		}
		if p == nil || p.Subject == "" {
			t.Fatalf("accepted with principal %+v", p)
		}
	})
}
