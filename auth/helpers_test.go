package auth

import (
	"errors"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testSecret is a 32-byte HS256 secret.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

// testNow is the verifiers' clock in tests.
var testNow = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// claimsAt returns valid claims for subject c-1 at testNow, changed by edit.
func claimsAt(edit func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub": "c-1",
		"iat": testNow.Add(-time.Minute).Unix(),
		"exp": testNow.Add(time.Hour).Unix(),
	}
	if edit != nil {
		edit(c)
	}
	return c
}

// sign signs c with method and key, adding header fields.
func sign(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	maps.Copy(tok.Header, header)
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign test token: %v", err)
	}
	return s
}

func newHS256Verifier(t *testing.T) *Verifier {
	t.Helper()
	v, err := NewVerifier(t.Context(), Options{HS256Secret: testSecret, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

// assertRefused checks that err is a refusal for reason and that its message
// quotes nothing of the token.
func assertRefused(t *testing.T, err error, reason error, token string) {
	t.Helper()
	if err == nil {
		t.Fatal("token accepted, want refused")
	}
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("error %q does not wrap ErrInvalidToken", err)
	}
	if reason != nil && !errors.Is(err, reason) {
		t.Errorf("error %q, want reason %q", err, reason)
	}
	for part := range strings.SplitSeq(token, ".") {
		if len(part) >= 4 && strings.Contains(err.Error(), part) {
			t.Errorf("error %q quotes the token", err)
		}
	}
}
